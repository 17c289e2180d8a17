import { changeToEvent, personasContext } from '../../audiences/emit';
import type { Change } from '../../audiences/evaluate';
import type { Collection } from '../../identity/identifiers';
import type { EnrichedEvent } from '../../ingest/spec';

/** Engage space id sent in `context.personas`: one deployment is one space (the Profile API's `default`). */
export const SPACE_ID = 'default';

/** Who the profile is, as Engage events name them. */
export interface ProfileIdentity {
  userId?: string;
  anonymousId?: string;
  email?: string;
  groupId?: string;
  /** Users linked to an account (`user_id:…` / `anonymous_id:…` keys), for account audience events. */
  linkedUsers: string[];
}

/** Most linked users an account audience event is sent for. */
export const MAX_LINKED_USERS = 100;

/**
 * Who a profile is from its identifiers (newest first) and traits: userId, the latest anonymousId,
 * email (trait, else identifier), groupId, and the linked users.
 */
export function identityOf(
  identifiers: readonly { kind: string; value: string }[],
  traits: Record<string, unknown>,
  linkedUsers: string[],
): ProfileIdentity {
  const first = (kind: string) => identifiers.find((r) => r.kind === kind)?.value;
  const email = typeof traits.email === 'string' && traits.email.trim() ? traits.email.trim() : first('email');
  return {
    userId: first('user_id'),
    anonymousId: first('anonymous_id'),
    email,
    groupId: first('group_id'),
    linkedUsers,
  };
}

/**
 * The events destinations receive for one change. A user profile: one `identify` or `track`, as
 * Segment Engage sends it (none when the profile has neither userId nor anonymousId). An account:
 * per linked user, a `group` call with trait `<key>` (identify mode) or the `track` event with
 * `context.groupId`, since Segment sends account-level results as group calls for its users.
 */
export function engageEvents(
  change: Change,
  who: ProfileIdentity,
  collection: Collection,
  opts: { spaceId: string; id: string; at: number },
): EnrichedEvent[] {
  if (collection === 'users') {
    if (!who.userId && !who.anonymousId) return [];
    return [changeToEvent(change, who, opts)];
  }
  if (!who.groupId) return [];
  const out: EnrichedEvent[] = [];
  for (const [i, key] of who.linkedUsers.slice(0, MAX_LINKED_USERS).entries()) {
    const user = key.startsWith('user_id:')
      ? { userId: key.slice('user_id:'.length) }
      : key.startsWith('anonymous_id:')
        ? { anonymousId: key.slice('anonymous_id:'.length) }
        : undefined;
    if (!user) continue;
    const event = changeToEvent(change, user, { ...opts, id: `${opts.id}_${i}` });
    if (event.type === 'identify') {
      const { traits: _traits, ...rest } = event;
      out.push({
        ...rest,
        type: 'group',
        groupId: who.groupId,
        traits: { [change.key]: change.value },
        context: { ...event.context, personas: personasContext(change, opts.spaceId) },
      } as EnrichedEvent);
    } else {
      out.push({ ...event, context: { ...event.context, groupId: who.groupId } } as EnrichedEvent);
    }
  }
  return out;
}
