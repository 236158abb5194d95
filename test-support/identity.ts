/**
 * Tokens for test users, signed the way the local stack's Auth signs them. Suites of the product and
 * of the device client take them from here, so that nothing in supabase/ or client/ imports the stack.
 */
export { mintUserToken } from '../stack/identity/jwt.ts';
