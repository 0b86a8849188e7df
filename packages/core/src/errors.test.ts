import { describe, expect, it } from 'vitest';
import {
  GeneratorContractError,
  InvalidInputError,
  lookupVariant,
  RetrieverContractError,
  Sr1Error,
} from './errors.js';

describe('errors', () => {
  it('names file, line and field in the message and keeps them as fields', () => {
    const error = new InvalidInputError({
      file: 'corpus.jsonl',
      line: 12,
      field: 'contents',
      reason: 'not a string',
    });
    expect(error).toBeInstanceOf(Sr1Error);
    expect(error.code).toBe('invalid_input');
    expect(error.message).toBe("corpus.jsonl:12: field 'contents': not a string");
    expect(error.line).toBe(12);
    expect(error.name).toBe('InvalidInputError');
  });

  it('lists the valid names of a registry', () => {
    const registry = { k1: 1, k2: 2, k3: 3 };
    expect(lookupVariant(registry, 'k2', 'KL estimator')).toBe(2);
    expect(() => lookupVariant(registry, 'k4', 'KL estimator', 'klEstimator')).toThrow(
      "field 'klEstimator': unknown KL estimator 'k4'. Supported: [k1, k2, k3]",
    );
  });
});

describe('contract errors', () => {
  it('are Sr1Errors with stable codes and the message as given', () => {
    const generator = new GeneratorContractError('expected 2 results, got 1');
    const retriever = new RetrieverContractError('expected 3 hit lists, got 2');
    expect(generator).toBeInstanceOf(Sr1Error);
    expect(retriever).toBeInstanceOf(Sr1Error);
    expect([generator.code, generator.name, generator.message]).toEqual([
      'generator_contract',
      'GeneratorContractError',
      'expected 2 results, got 1',
    ]);
    expect([retriever.code, retriever.name]).toEqual(['retriever_contract', 'RetrieverContractError']);
  });
});
