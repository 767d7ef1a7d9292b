// Engine errors as sentences. The engine's messages are said of their `where` ("model.safetensors
// is not …", "config.json must …"), but some are clauses of their own ("its header describes …",
// "tensor 'x' has …", "reading bytes … returned …"): joined to the file name those do not read.
// errorSentence tells them apart by the message's first word and gives the text to show around
// the `where`; asSentence capitalises and ends any message or hint.

/** First words that continue a subject: the message is a predicate of its `where`. */
const PREDICATE =
  /^(is|are|was|were|has|have|had|holds|must|cannot|can|could|does|did|do|names|needs|appears|differs?|lacks|contains|became|gives|refers|lists|should|will|would|uses|says|matches|ends|starts|exceeds|failed|fails|returned|declares|defines|misses|gave)\b/;

/** Capitalises a plain first word (not a file or code name) and ends the text with a full stop. */
export function asSentence(text: string): string {
  let t = text.trim();
  if (t === '') return t;
  if (/^[a-z]+(?=[\s,:;]|$)/.test(t)) t = t[0].toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(t) ? t : `${t}.`;
}

/**
 * How to show a message about a `where`: as its predicate ("<where> is not valid JSON.") or, when
 * the message is a clause of its own, after the place ("In <where>: Its header describes ….").
 */
export function errorSentence(message: string): { form: 'predicate' | 'clause'; text: string } {
  const m = message.trim();
  if (PREDICATE.test(m)) return { form: 'predicate', text: /[.!?…]$/.test(m) ? m : `${m}.` };
  return { form: 'clause', text: asSentence(m) };
}
