// task: the text of PrefStudio's built-in demo task — every question the demo model knows, each
// with a GOOD answer (a full sentence, correct) and a BAD one (a hedge, "I think it is …", wrong).
//
//   used by  scripts/demo/task_io.ts  (tokenizes the items for scripts/demo/train_demo.py)
//
// What it is: a pure, deterministic list (no randomness, no I/O). Which style each question gets in
// the SFT data, and the preference train/test split, are decided by train_demo.py (seeded).
// Families (381 questions):
//   plus    "What is 7 plus 5?"        good "7 plus 5 is 12."      bad "I think it is 13."
//   minus   "What is 9 minus 4?"       good "9 minus 4 is 5."      bad "I think it is 6."
//   times   "What is 3 times 4?"       good "3 times 4 is 12."     bad "I think it is 13."
//   color   "What color is a banana?"  good "A banana is yellow."  bad "I think it is blue."
//   animal  "What does a cow say?"     good "A cow says moo."      bad "I think it says woof."
// plus: all 169 ordered pairs of 0…12; minus: the 91 pairs of 0…12 with a non-negative result;
// times: the 81 pairs of 1…9. The bad arithmetic answer is always the result + 1 (off by one). The
// bad fact answers take the answer of another question of the same family: plausible but wrong.
// The demo tokenizer (make_tokenizer.ts) has merges for the arithmetic words ("What", "▁is",
// "▁plus", "▁minus", "▁times"); the color and animal words are spelled from shorter pieces.

/** One question of the demo task. */
export interface TaskItem {
  /** Stable id, e.g. "plus/7+5", "color/a banana". */
  id: string;
  family: 'plus' | 'minus' | 'times' | 'color' | 'animal';
  /** The user turn. */
  question: string;
  /** The preferred assistant turn: full sentence, correct. */
  good: string;
  /** The dispreferred assistant turn: "I think it is …", wrong. */
  bad: string;
}

/** [thing as it appears in "What color is …?", its color]. */
const COLORS: [string, string][] = [
  ['the sky', 'blue'], ['grass', 'green'], ['a banana', 'yellow'], ['snow', 'white'], ['coal', 'black'],
  ['a tomato', 'red'], ['a carrot', 'orange'], ['milk', 'white'], ['a lemon', 'yellow'], ['a frog', 'green'],
  ['the sun', 'yellow'], ['chocolate', 'brown'], ['a strawberry', 'red'], ['a leaf', 'green'], ['the sea', 'blue'],
  ['a cloud', 'white'], ['a crow', 'black'], ['an apple', 'red'], ['a pumpkin', 'orange'], ['a mouse', 'gray'],
  ['an elephant', 'gray'], ['a cherry', 'red'], ['the night', 'black'], ['a bear', 'brown'],
];

/** [animal with its article, what it says]. */
const ANIMALS: [string, string][] = [
  ['a cow', 'moo'], ['a dog', 'woof'], ['a cat', 'meow'], ['a duck', 'quack'], ['a sheep', 'baa'],
  ['a pig', 'oink'], ['an owl', 'hoot'], ['a lion', 'roar'], ['a bee', 'buzz'], ['a horse', 'neigh'],
  ['a snake', 'hiss'], ['a mouse', 'squeak'], ['a frog', 'ribbit'], ['a crow', 'caw'], ['a hen', 'cluck'],
  ['a wolf', 'howl'],
];

/** Largest operand of the plus / minus questions. */
export const MAX_OPERAND = 12;

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A wrong answer for question i of a family: the answer of a later question (stride 7, then 8, 9, …
 * until it differs), so wrong answers are spread over the family's vocabulary, deterministically.
 */
function wrongAnswer(answers: readonly string[], i: number): string {
  for (let stride = 7; stride < 7 + answers.length; stride++) {
    const w = answers[(i + stride) % answers.length];
    if (w !== answers[i]) return w;
  }
  throw new Error(`task: every answer of the family equals "${answers[i]}"`);
}

/** Every question of the demo task, in a fixed order (families as listed above). */
export function demoTask(): TaskItem[] {
  const items: TaskItem[] = [];
  for (let a = 0; a <= MAX_OPERAND; a++) {
    for (let b = 0; b <= MAX_OPERAND; b++) {
      items.push({ id: `plus/${a}+${b}`, family: 'plus', question: `What is ${a} plus ${b}?`, good: `${a} plus ${b} is ${a + b}.`, bad: `I think it is ${a + b + 1}.` });
    }
  }
  for (let a = 0; a <= MAX_OPERAND; a++) {
    for (let b = 0; b <= a; b++) {
      items.push({ id: `minus/${a}-${b}`, family: 'minus', question: `What is ${a} minus ${b}?`, good: `${a} minus ${b} is ${a - b}.`, bad: `I think it is ${a - b + 1}.` });
    }
  }
  for (let a = 1; a <= 9; a++) {
    for (let b = 1; b <= 9; b++) {
      items.push({ id: `times/${a}*${b}`, family: 'times', question: `What is ${a} times ${b}?`, good: `${a} times ${b} is ${a * b}.`, bad: `I think it is ${a * b + 1}.` });
    }
  }
  const colors = COLORS.map(([, c]) => c);
  COLORS.forEach(([thing, color], i) => {
    items.push({ id: `color/${thing}`, family: 'color', question: `What color is ${thing}?`, good: `${capitalize(thing)} is ${color}.`, bad: `I think it is ${wrongAnswer(colors, i)}.` });
  });
  const sounds = ANIMALS.map(([, s]) => s);
  ANIMALS.forEach(([animal, sound], i) => {
    items.push({ id: `animal/${animal}`, family: 'animal', question: `What does ${animal} say?`, good: `${capitalize(animal)} says ${sound}.`, bad: `I think it says ${wrongAnswer(sounds, i)}.` });
  });
  const ids = new Set(items.map((it) => it.id));
  if (ids.size !== items.length) throw new Error('task: duplicate item ids');
  return items;
}

