import { describe, expect, it } from 'vitest';
import type { IngestMessage } from '../ingest/spec';
import { groupByIdentity } from './grouping';
import { compileRules, defaultSettings } from './settings';

const rules = compileRules(defaultSettings());
const msg = (event: Record<string, unknown>) => ({
  body: {
    sourceId: 's',
    event: { messageId: 'm', timestamp: '', receivedAt: '', originalTimestamp: '', context: {}, ...event },
  } as IngestMessage,
});

describe('groupByIdentity', () => {
  it('groups events sharing identifiers transitively, keeping arrival order; blocked values link nothing', () => {
    const batch = [
      msg({ type: 'track', event: 'A', anonymousId: 'a1' }),
      msg({ type: 'track', event: 'B', userId: 'u2', anonymousId: 'null' }),
      msg({ type: 'identify', userId: 'u1', anonymousId: 'a1' }),
      msg({ type: 'track', event: 'C', userId: 'u1' }),
      msg({ type: 'track', event: 'D', userId: 'u3', anonymousId: 'null' }),
      msg({ type: 'alias', previousId: 'u3', userId: 'u4' }),
    ];
    const groups = groupByIdentity(batch, rules).map((g) => g.map((m) => batch.indexOf(m)));
    expect(groups).toEqual([[0, 2, 3], [1], [4, 5]]);
  });
});
