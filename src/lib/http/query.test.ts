import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors';
import { queryInt } from './query';

const range = { fallback: 100, min: 1, max: 500 };
const error = (raw: string) => {
  try {
    queryInt(raw, 'limit', range);
  } catch (err) {
    return err;
  }
  return undefined;
};

describe('queryInt', () => {
  it('gives the fallback when absent or empty and the integer when within the range', () => {
    expect(queryInt(undefined, 'limit', range)).toBe(100);
    expect(queryInt('', 'limit', range)).toBe(100);
    expect(queryInt('1', 'limit', range)).toBe(1);
    expect(queryInt('500', 'limit', range)).toBe(500);
  });

  it('answers 400 naming the range for anything else, never clamping', () => {
    for (const raw of ['0', '501', '-1', '2.5', 'abc', 'Infinity', 'NaN']) {
      const err = error(raw);
      expect(err, raw).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
      expect((err as ApiError).message).toBe('`limit` must be an integer from 1 to 500');
    }
  });

  it('lets an API answer in its own error shape', () => {
    const own = (m: string) => new ApiError(400, 'validation_error', `The parameter ${m}`);
    expect(() => queryInt('0', 'limit', range, own)).toThrow('The parameter `limit` must be an integer from 1 to 500');
  });
});
