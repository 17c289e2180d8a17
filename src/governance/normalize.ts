import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/min';

/** Normalisers usable in a transformation's `propertyValueTransformations` (beyond Segment). */
export const NORMALIZERS = ['trim', 'lowercase', 'uppercase', 'e164', 'iso8601'] as const;
export type Normalizer = (typeof NORMALIZERS)[number];

/**
 * Normalises one value; a value that cannot be normalised is returned unchanged, so a
 * transformation never destroys data it does not understand. E.164 uses libphonenumber-js
 * (Google's metadata, pure JS) with `defaultCountry` for national numbers.
 */
export function normalize(kind: Normalizer, value: unknown, defaultCountry?: string): unknown {
  if (typeof value !== 'string' && !(kind === 'iso8601' && typeof value === 'number')) return value;
  switch (kind) {
    case 'trim':
      return (value as string).trim();
    case 'lowercase':
      return (value as string).toLowerCase();
    case 'uppercase':
      return (value as string).toUpperCase();
    case 'e164': {
      const phone = parsePhoneNumberFromString(value as string, defaultCountry as CountryCode | undefined);
      return phone?.isPossible() ? phone.number : value;
    }
    case 'iso8601': {
      const ms = typeof value === 'number' ? (value < 1e11 ? value * 1000 : value) : Date.parse(value as string);
      return Number.isNaN(ms) ? value : new Date(ms).toISOString();
    }
  }
}
