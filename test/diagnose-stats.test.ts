import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConntrackStats } from "../src/diagnose/stats.js";
import { InputError } from "../src/errors.js";

const fx = (name: string) => readFileSync(new URL(`fixtures/diagnose/${name}`, import.meta.url), "latin1");
const SAMPLES = "/work/shared/samples";
const haveSamples = existsSync(SAMPLES);
if (!haveSamples) console.log(`skipping real-sample stats assertions: ${SAMPLES} not present`);
const sample = (name: string) => readFileSync(`${SAMPLES}/${name}`, "latin1");

describe("/proc/net/stat/nf_conntrack", () => {
  it("2.6–5.x 'searched' era: hex per CPU, entries taken once, icmp_error is error", () => {
    const s = parseConntrackStats(fx("stat-searched.txt"));
    expect(s.format).toBe("proc");
    expect(s.cpus).toBe(2);
    expect(s.entries).toBe(0xe66b);
    expect(s.columns[0]).toBe("searched");
    expect(s.totals).toMatchObject({
      searched: 17,
      found: 34,
      invalid: 10,
      delete_list: 119,
      insert_failed: 3,
      drop: 4,
      early_drop: 21,
      error: 3,
      search_restart: 10,
    });
    expect("entries" in s.totals).toBe(false);
  });

  it("5.10 era: clashres (clash_resolve) with delete_list", () => {
    const s = parseConntrackStats(fx("stat-clashres-5.10.txt"));
    expect([s.cpus, s.entries]).toEqual([3, 1024]);
    expect(s.columns.slice(0, 1)).toEqual(["clashres"]);
    expect(s.columns).toContain("delete_list");
    expect(s.totals).toMatchObject({ clash_resolve: 3, invalid: 112, search_restart: 1, drop: 0 });
    expect("chaintoolong" in s.totals).toBe(false);
  });

  it("5.15+ era: chainlength is chaintoolong", () => {
    const s = parseConntrackStats(fx("stat-chainlength.txt"));
    expect([s.cpus, s.entries]).toEqual([2, 65536]);
    expect(s.totals).toMatchObject({
      clash_resolve: 4,
      chaintoolong: 5,
      insert_failed: 48,
      drop: 384,
      early_drop: 768,
      invalid: 21,
      search_restart: 10,
    });
  });

  it("rejects a row whose column count differs from the header, and text that is neither form", () => {
    expect(() => parseConntrackStats("entries  found drop\n00000001 00000002\n")).toThrow(/2 columns under a header of 3/);
    expect(() => parseConntrackStats("hello world\n")).toThrow(InputError);
    expect(() => parseConntrackStats("")).toThrow(/no \/proc\/net\/stat\/nf_conntrack header/);
    expect(() => parseConntrackStats("entries drop\nzzzzzzzz 00000001\n")).toThrow(/not a hex counter/);
  });

  it("a header without rows gives the era with unknown counters", () => {
    const s = parseConntrackStats(
      "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n",
    );
    expect(s).toEqual({ format: "proc", columns: expect.arrayContaining(["clashres", "chainlength"]), cpus: 0, entries: null, totals: {} });
  });
});

describe("conntrack -S", () => {
  it("5.x output with ignore= and trailing spaces", () => {
    const s = parseConntrackStats(fx("conntrack-S-5.x.txt"));
    expect(s).toEqual({
      format: "conntrack-S",
      columns: ["found", "invalid", "ignore", "insert", "insert_failed", "drop", "early_drop", "error", "search_restart"],
      cpus: 2,
      entries: null,
      totals: { found: 4, invalid: 150, ignore: 10, insert: 0, insert_failed: 3, drop: 3, early_drop: 1, error: 4, search_restart: 15 },
    });
  });

  it("6.x output with clash_resolve and chaintoolong", () => {
    const s = parseConntrackStats(fx("conntrack-S-6.x.txt"));
    expect(s.cpus).toBe(3);
    expect(s.totals).toMatchObject({ invalid: 8, search_restart: 1, clash_resolve: 3, chaintoolong: 4 });
  });

  it("refuses a CPU listed twice (two captures pasted together)", () => {
    expect(() => parseConntrackStats("cpu=0 found=1\ncpu=0 found=1\n")).toThrow(/cpu=0 appears twice/);
  });
});

describe.skipIf(!haveSamples)("real samples", () => {
  it("node_exporter fixture (4 CPUs)", () => {
    const s = parseConntrackStats(sample("prometheus-node_exporter_fixtures-proc-net-stat-nf_conntrack.txt"));
    expect([s.cpus, s.entries]).toEqual([4, 33]);
    expect(s.totals).toMatchObject({
      found: 0,
      invalid: 53,
      ignore: 89738,
      insert: 0,
      insert_failed: 0,
      drop: 0,
      early_drop: 0,
      error: 0,
      search_restart: 7,
    });
  });

  it("netdata paste from a busy host (3 CPU rows)", () => {
    const s = parseConntrackStats(sample("netdata-netdata_issue161_proc-net-stat-nf_conntrack.txt"));
    expect([s.cpus, s.entries]).toEqual([3, 1822]);
    expect(s.totals).toMatchObject({ drop: 1346, found: 2695749456, invalid: 2117220, error: 135761, early_drop: 0 });
  });

  it("cnamejj captures (nf_conntrack and ip_conntrack, 8 CPUs)", () => {
    const nf = parseConntrackStats(sample("cnamejj-PyProc_stat-nf_conntrack.txt"));
    expect([nf.cpus, nf.entries, nf.totals.found, nf.totals.insert]).toEqual([8, 22, 9195768, 202450]);
    const ip = parseConntrackStats(sample("cnamejj-PyProc_stat-ip_conntrack.txt"));
    expect([ip.cpus, ip.entries]).toEqual([8, 21]);
  });

  it("google/nftables 5.10: conntrack -S part and the clashres/delete_list header", () => {
    const text = sample("google-nftables_issue138_kernel5.10_conntrack-S_and_stat-header.txt").split("\n");
    const s = parseConntrackStats(text.filter((l) => l.startsWith("cpu=")).join("\n"));
    expect(s.cpus).toBe(4);
    expect(s.totals).toMatchObject({ invalid: 112, search_restart: 1, drop: 0 });
    const header = parseConntrackStats(text.filter((l) => l.startsWith("entries")).join("\n"));
    expect(header.columns).toEqual(expect.arrayContaining(["clashres", "delete_list", "search_restart"]));
    expect(header.cpus).toBe(0);
  });

  it("conntrack -S from a 16-CPU node and from telegraf's report", () => {
    const j = parseConntrackStats(sample("jwkohnen-conntrack-stats-exporter_conntrack-S_16cpu.txt"));
    expect(j.cpus).toBe(16);
    expect(j.totals).toMatchObject({ drop: 318, insert_failed: 318, invalid: 591122, search_restart: 11795680, error: 362 });
    const t = parseConntrackStats(sample("influxdata-telegraf_issue8955_conntrack-S.txt"));
    expect(t.cpus).toBe(8);
    expect(t.totals).toMatchObject({ drop: 1, insert_failed: 1, invalid: 24752, search_restart: 266520 });
  });
});
