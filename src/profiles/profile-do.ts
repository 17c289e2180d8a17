import { DurableObject } from 'cloudflare:workers';

/** One unified customer profile (built by the identity issue). */
export class Profile extends DurableObject<Env> {}
