/** Canonical address text, used only for what is shown (aggregation works on raw bytes). */
import ipaddr, { type IPv6 } from "./ipaddr.js";

/** IPv4 dotted quad or IPv6 compressed per RFC 5952, from 16 bytes at offset. */
export function formatAddress(family: number, bytes: Uint8Array, offset = 0): string {
  if (family === 4) return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  const v6 = ipaddr.fromByteArray(Array.from(bytes.subarray(offset, offset + 16))) as IPv6;
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted tail (as conntrack-tools prints them).
  if (v6.isIPv4MappedAddress()) return `::ffff:${v6.toIPv4Address().toString()}`;
  return v6.toRFC5952String();
}

/** The /24 (IPv4) or /64 (IPv6) prefix containing the address. */
export function formatPrefix(family: number, bytes: Uint8Array, offset = 0): string {
  if (family === 4) return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.0/24`;
  const b = new Uint8Array(16);
  b.set(bytes.subarray(offset, offset + 8));
  return `${formatAddress(6, b)}/64`;
}

/** "addr:port" with IPv6 in brackets; just the address when there is no port. */
export function formatEndpoint(addr: string, port: number | null): string {
  if (port === null) return addr;
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Escape control characters (and non-ASCII bytes) so a malformed line prints safely on one line. */
export function escapeControl(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) out += "\\\\";
    else if (c === 9) out += "\\t";
    else if (c === 13) out += "\\r";
    else if (c === 10) out += "\\n";
    else if (c < 0x20 || c === 0x7f || c > 0x7e) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += text[i];
  }
  return out;
}
