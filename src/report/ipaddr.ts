/**
 * ipaddr.js loaded with require: importing this CommonJS module as ESM makes Node scan its source
 * for exports at every start (about 20 ms, a tenth of a whole `--live --once` run).
 */
import { createRequire } from "node:module";
import type IpAddr from "ipaddr.js";

const ipaddr: typeof IpAddr = createRequire(import.meta.url)("ipaddr.js");
export default ipaddr;
export type IPv6 = IpAddr.IPv6;
