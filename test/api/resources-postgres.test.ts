/**
 * The SDK conformance suite of `resources.test.ts` with the event log and the API's
 * resource stores on a real PostgreSQL server instead of PGlite.
 */
process.env['LONGHAUL_TEST_API_STORE'] = 'postgres';
await import('./resources.test.ts');
