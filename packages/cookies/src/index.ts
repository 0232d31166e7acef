export { cookies, type CookiesContext } from './cookies.js';
export { cookiesOptionsSchema, type CookiesOptions, type ResolvedCookiesOptions } from './options.js';
export { CookieJar } from 'tough-cookie';
