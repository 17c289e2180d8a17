import type { DeliveryMessage } from '../../src/delivery/messages';
import { Profile } from '../../src/profiles/profile-do';
import type { SqlMeter } from '../../src/profiles/sql-meter';

/** What a test can make a `TestProfile` do at its seams; each unset hook leaves `Profile` as it is. */
export interface ProfileHooks {
  /** Runs before an apply reads the audience definitions (its one await before committing). */
  beforeDefinitions?: () => Promise<void>;
  /** Runs before this profile, as a survivor, absorbs a loser's history. */
  beforeAbsorb?: () => Promise<void>;
  /** Replaces the delivery-queue send (a simulated outage or a recorder). */
  send?: (messages: DeliveryMessage[]) => Promise<void>;
}

/**
 * The `Profile` Durable Object with test hooks (the cloudflare/agents pattern): the workers test
 * project binds `PROFILE` to this class (vitest.config.ts, test/worker.ts), so every profile of a
 * test run is one, and a test sets hooks on one instance through `runInDurableObject`. Without
 * hooks it is `Profile` exactly.
 */
export class TestProfile extends Profile {
  hooks: ProfileHooks = {};

  /**
   * The object's own SQL meter. A test that writes the object's SQLite between calls goes through
   * it, as the object's code does: the meter keeps reads until a write it runs (`SqlMeter.memo`),
   * so a write behind its back (`state.storage.sql`) would leave it answering what was there before.
   */
  get meter(): SqlMeter {
    return this.sql;
  }

  /** SQL statements this object ran so far (each a call into SQLite; locally a traced span too). */
  get statementsRun(): number {
    return this.sql.executed;
  }

  protected override async definitions(collection: Parameters<Profile['definitions']>[0]) {
    await this.hooks.beforeDefinitions?.();
    return super.definitions(collection);
  }

  override async absorb(input: Parameters<Profile['absorb']>[0]) {
    await this.hooks.beforeAbsorb?.();
    return super.absorb(input);
  }

  protected override send(messages: DeliveryMessage[]): Promise<void> {
    return this.hooks.send ? this.hooks.send(messages) : super.send(messages);
  }
}
