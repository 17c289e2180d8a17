import { amplitude } from './amplitude';
import { braze } from './braze';
import { customerio } from './customerio';
import { functionDestination } from './function';
import { ga4 } from './ga4';
import { mixpanel } from './mixpanel';
import { posthog } from './posthog';
import { segment } from './segment';
import { slack } from './slack';
import type { AnyDestination } from './types';
import { webhook } from './webhook';

/** Every destination type Tessera ships. Adding one: a folder under src/destinations and a line here. */
export const DESTINATIONS: readonly AnyDestination[] = [
  webhook,
  segment,
  mixpanel,
  amplitude,
  ga4,
  posthog,
  customerio,
  braze,
  slack,
  functionDestination,
];

const byId = new Map(DESTINATIONS.map((d) => [d.id, d]));

/** The definition of a destination type, if Tessera has it. */
export function destinationType(id: string): AnyDestination | undefined {
  return byId.get(id);
}
