// Engine messages as the Model screen shows them: predicates join their file, clauses follow "In <file>:".

import { describe, expect, it } from 'vitest';
import { asSentence, errorSentence } from './sentence.ts';

describe('asSentence', () => {
  it('capitalises a plain first word and adds a full stop', () => {
    expect(asSentence('another import is still running')).toBe('Another import is still running.');
    expect(asSentence('add every shard listed in model.safetensors.index.json (3 files); a download may be incomplete')).toBe(
      'Add every shard listed in model.safetensors.index.json (3 files); a download may be incomplete.',
    );
    expect(asSentence('Done already.')).toBe('Done already.');
    expect(asSentence('  is it?  ')).toBe('Is it?');
    expect(asSentence('')).toBe('');
  });

  it('leaves file and code names as they are', () => {
    expect(asSentence('model.safetensors was changed')).toBe('model.safetensors was changed.');
    expect(asSentence('config.json: no vocab_size')).toBe('config.json: no vocab_size.');
    expect(asSentence("'lm_head.weight' is ignored")).toBe("'lm_head.weight' is ignored.");
    expect(asSentence('num_hidden_layers must be positive')).toBe('num_hidden_layers must be positive.');
  });
});

describe('errorSentence', () => {
  it('a predicate reads after its file', () => {
    expect(errorSentence("names shard 'model-00002-of-00003.safetensors' (holding e.g. 'x'), which was not provided")).toEqual({
      form: 'predicate',
      text: "names shard 'model-00002-of-00003.safetensors' (holding e.g. 'x'), which was not provided.",
    });
    expect(errorSentence('is not there (HTTP 404 Not Found)').form).toBe('predicate');
    expect(errorSentence('must be a JSON object').text).toBe('must be a JSON object.');
  });

  it('a clause of its own follows the place, capitalised', () => {
    expect(errorSentence("its header describes 16 bytes of tensor data (the last tensor 'b' ends at 16) but the file holds only 12: the file is truncated")).toEqual({
      form: 'clause',
      text: "Its header describes 16 bytes of tensor data (the last tensor 'b' ends at 16) but the file holds only 12: the file is truncated.",
    });
    expect(errorSentence('reading bytes 0…8 returned 4 bytes').text).toBe('Reading bytes 0…8 returned 4 bytes.');
    expect(errorSentence("tensor 'a' has shape [2]").form).toBe('clause');
  });
});
