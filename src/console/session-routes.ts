import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, principalOf, signInWith } from '../admin/auth';
import { csrfFor, sessionCookie, sessionToken } from '../admin/session';
import { forbidden } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';

export const SignIn = z.strictObject({
  token: z.string().min(1).max(4096).describe('An API token (ADMIN_TOKEN or a scoped tsr_… token)'),
});

/**
 * A browser sends `Origin` on every POST/DELETE; one from another site is refused, so no other page
 * can sign a visitor in with its own token (login CSRF) or sign them out.
 */
function sameOrigin(c: Context) {
  const origin = c.req.header('origin');
  if (origin && origin !== new URL(c.req.url).origin) throw forbidden('Cross-origin session requests are refused');
}

const doc = apiDoc('Console', {
  signIn: {
    summary: 'Sign the console in: sets the HttpOnly session cookie; answers the scopes and the CSRF token',
    body: SignIn,
    errors: [429],
    description:
      'No token needed beyond the one in the body. Changes made with the cookie need the `x-csrf-token` header.',
  },
  show: { summary: "The session's principal, scopes and CSRF token (cookie or Bearer); `signedIn: false` without one" },
  signOut: { summary: 'Sign the console out: clears the session cookie' },
});

const view = async (c: Context<AdminEnv>, token: string | undefined) => {
  const p = c.get('principal');
  return {
    signedIn: true,
    name: p.name,
    kind: p.kind,
    id: p.id,
    scopes: p.scopes,
    csrfToken: token ? await csrfFor(token) : null,
  };
};

/** `/api/session`: public routes (they authenticate themselves); sign-in and sign-out are audited. */
export const sessionApi = new Hono<AdminEnv>()
  .post('/', doc.signIn, async (c) => {
    sameOrigin(c);
    const { token } = await parseJson(c.req.raw, SignIn);
    await signInWith(c, token);
    c.header('set-cookie', sessionCookie(token));
    c.header('cache-control', 'no-store');
    return c.json(await view(c, token), 201);
  })
  .get('/', doc.show, async (c) => {
    // A console that was never signed in asks first: that is an answer, not an error.
    if (!c.req.header('authorization') && !sessionToken(c.req.header('cookie'))) {
      c.header('cache-control', 'no-store');
      return c.json({ signedIn: false, scopes: [] });
    }
    await principalOf(c);
    c.header('cache-control', 'no-store');
    return c.json(await view(c, sessionToken(c.req.header('cookie'))));
  })
  .delete('/', doc.signOut, async (c) => {
    sameOrigin(c);
    await principalOf(c);
    c.header('set-cookie', sessionCookie(null));
    return c.json({ signedOut: true });
  });
