// Generate slice: the Generate screen's prompt, sampling settings (as typed, by the names
// `prefstudio generate` and transformers use), the base model chosen, and the answers streaming
// in — the base model's and the trained run's, each with its text so far and how many token
// updates it has had. Filled by src/ui/engine/generation.ts from the worker's generate events.

/** The sampling settings by name, as the user typed them. */
export interface SamplingValues {
  temperature: string;
  top_p: string;
  max_new_tokens: string;
  seed: string;
}

export type GenerateStatus = 'idle' | 'starting' | 'loading' | 'running' | 'stopping' | 'done' | 'failed';

export interface AnswerView {
  text: string;
  /** New tokens so far. */
  tokens: number;
  /** generateToken events received (the answer streamed when > 1). */
  updates: number;
  done: boolean;
  /** How it ended (done only). */
  finish: 'stop' | 'length' | 'stopped' | null;
  tokensPerSecond: number;
}

export interface GenerateProblem {
  name: string;
  message: string;
  where?: string;
  hint?: string;
}

export interface GenerateState {
  generate: {
    prompt: string;
    values: SamplingValues;
    /** The base model (null: the built-in demo). */
    modelId: string | null;
    /**
     * Where the trained answer comes from, as chosen: 'run' (the held run's weights), 'adapter:<id>'
     * (the base with a PEFT adapter stored under it), 'none' (the base only); null: the default
     * (the run when it can answer, else the model's first adapter).
     */
    trainedChoice: string | null;
    status: GenerateStatus;
    /** The generate command's id (events of older requests are ignored). */
    requestId: number;
    /** The run whose weights answer as the trained model (null: base only, or an adapter). */
    runId: string | null;
    /** The stored adapter that answers as the trained model (its name), or null. */
    adapterName: string | null;
    /** The answers that will come (generateStarted). */
    sides: ('base' | 'trained')[];
    /** The prompt as the model reads it, and its length in tokens. */
    promptText: string;
    promptTokens: number;
    /** The base model loading onto the GPU (percent), or null. */
    loading: number | null;
    base: AnswerView | null;
    trained: AnswerView | null;
    problem: GenerateProblem | null;
  };
}

/** The demo was trained on short arithmetic and facts: a prompt it can answer. */
export const DEFAULT_PROMPT = 'What is 3 times 7?';
/** `prefstudio generate`'s defaults (greedy). */
export const DEFAULT_SAMPLING: Readonly<SamplingValues> = { temperature: '0', top_p: '1', max_new_tokens: '64', seed: '0' };

export const generateInitialState: GenerateState = {
  generate: {
    prompt: DEFAULT_PROMPT,
    values: { ...DEFAULT_SAMPLING },
    modelId: null,
    trainedChoice: null,
    status: 'idle',
    requestId: 0,
    runId: null,
    adapterName: null,
    sides: [],
    promptText: '',
    promptTokens: 0,
    loading: null,
    base: null,
    trained: null,
    problem: null,
  },
};
