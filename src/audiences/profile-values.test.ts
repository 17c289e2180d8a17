import { describe, expect, it } from 'vitest';
import { compileDefinitions } from './compile';
import { Audience, ComputedTrait } from './definitions';
import type { Change } from './evaluate';
import { publicKeys, publicValues } from './profile-values';

describe('publicValues', () => {
  const set = compileDefinitions({
    revision: 1,
    computedTraits: [
      {
        id: 't1',
        version: 1,
        definition: ComputedTrait.parse({ key: 'views', name: 'v', type: 'count', event: 'V', public: true }),
      },
      {
        id: 't2',
        version: 1,
        definition: ComputedTrait.parse({
          key: 'spend',
          name: 's',
          type: 'sum',
          event: 'O',
          property: 'properties.total',
        }),
      },
    ],
    audiences: [
      {
        id: 'a1',
        version: 1,
        definition: Audience.parse({ key: 'fans', name: 'f', public: true, definition: { event: 'V' } }),
      },
      { id: 'a2', version: 1, definition: Audience.parse({ key: 'whales', name: 'w', definition: { event: 'O' } }) },
    ],
  });
  const stored = (key: string, kind: Change['kind'], value: unknown) => ({
    key,
    kind,
    value,
    defId: 'x',
    version: 1,
    seq: 1,
    updatedAt: 0,
  });

  it('lists public definitions only, with defaults until computed', () => {
    expect(publicKeys(set)).toEqual(['fans', 'views']);
    expect(publicValues(set, [])).toEqual({ audiences: { fans: false }, traits: { views: 0 } });
  });

  it('never exposes a value that is not public, whatever it is handed', () => {
    const values = [
      stored('fans', 'audience', true),
      stored('whales', 'audience', true),
      stored('views', 'computed_trait', 7),
      stored('spend', 'computed_trait', 1200),
    ];
    expect(publicValues(set, values)).toEqual({ audiences: { fans: true }, traits: { views: 7 } });
  });
});
