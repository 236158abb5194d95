/**
 * GoTrue's password rules (github.com/supabase/auth internal/api/password.go): a minimum length
 * and the `password_requirements` character sets, refused as `weak_password` with its reasons.
 */
import { refuse } from './errors.ts';
import type { AuthSettings } from './settings.ts';

const sets: Record<string, string[]> = {
  '': [],
  letters_digits: ['abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', '0123456789'],
  lower_upper_letters_digits: ['abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '0123456789'],
  lower_upper_letters_digits_symbols: [
    'abcdefghijklmnopqrstuvwxyz',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    '0123456789',
    '!@#$%^&*()_+-=[]{};\'\\:"|<>?,./`~',
  ],
};

export function checkPassword(password: string, settings: AuthSettings): void {
  const reasons: string[] = [];
  const messages: string[] = [];
  if ([...password].length < settings.minimumPasswordLength) {
    reasons.push('length');
    messages.push(`Password should be at least ${settings.minimumPasswordLength} characters.`);
  }
  const required = sets[settings.passwordRequirements] ?? [];
  if (!required.every((set) => [...password].some((char) => set.includes(char)))) {
    reasons.push('characters');
    messages.push(
      `Password should contain at least one character of each: ${required.map((set) => JSON.stringify(set)).join(', ')}.`,
    );
  }
  if (reasons.length > 0) throw refuse.weakPassword(messages.join(' '), reasons);
}
