/**
 * Who hears each severity in the test regimes: one email address a severity. A regime that pages a
 * severity with no subscriber is refused (its `alerting.<P>` promise, regime/paging-promises.ts), so a
 * test regime that is not about alert routing sets this and is judged on what it is about.
 */
export const ALERTING = {
  P0: { email: ["p0@example.com"] },
  P1: { email: ["p1@example.com"] },
  P2: { email: ["p2@example.com"] },
  P3: { email: ["p3@example.com"] },
};
