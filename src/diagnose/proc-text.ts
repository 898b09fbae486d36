/** Small /proc parsers: slab object size of conntrack entries, and total RAM. */

/**
 * The nf_conntrack object size in bytes from /proc/slabinfo, or null when the cache is not listed
 * (slab merging can fold it into a generic cache). Line form:
 * `nf_conntrack  96  160  256  16  1 : tunables ... : slabdata ...` (name active num objsize ...).
 * Old kernels name the cache `nf_conntrack_<netns address>` or `ip_conntrack`.
 */
export function parseSlabinfo(text: string): number | null {
  for (const line of text.split(/\r?\n/)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    if (!/^(?:nf_conntrack(?:_[0-9a-f]+)?|ip_conntrack)$/.test(f[0]!)) continue;
    const size = Number(f[3]);
    if (Number.isInteger(size) && size > 0 && size < 65536) return size;
  }
  return null;
}

/** MemTotal from /proc/meminfo, in bytes, or null. */
export function parseMeminfo(text: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/** Word size from an architecture name (uname -m, kernel.arch, or Node's process.arch). */
export function wordBitsOfArch(arch: string): number | null {
  const a = arch.trim();
  if (/^(?:x86_64|x64|amd64|aarch64|arm64|ppc64(?:le)?|s390x|riscv64|loong64|loongarch64|mips64(?:el)?|sparc64|alpha|ia64)$/.test(a))
    return 64;
  if (/^(?:i[3-6]86|x86|ia32|arm(?:v\d+\w*)?|armhf|armel|ppc|powerpc|s390|riscv32|mips(?:el)?|sh\d?\w*|m68k)$/.test(a)) return 32;
  return null;
}
