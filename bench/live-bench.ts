/**
 * Live benchmarks on a real kernel (root, ip netns, nft, python3, tmux; `npx tsc -p tsconfig.build.json` first):
 *
 *   npx tsx bench/live-bench.ts [snapshot] [flood] [--entries N] [--runs N] [--seconds S]
 *
 * snapshot: a namespace holding N real entries (default 200,000) in two shapes, "clients" (many
 *   connections per flow class: 200 sockets x N/200 destinations) and "distinct" (every entry its own
 *   class, the shape of a flood of new destinations). Whole-process `--live --once --json` per source
 *   against `cat /proc/net/nf_conntrack > /dev/null` in the same namespace (median of --runs).
 * flood: the namespace's table filled to nf_conntrack_max and kept full by a flood of new flows
 *   (every one dropped); the full-screen view runs in tmux for --seconds (default 65) with a trace of
 *   every refresh: intervals between refreshes, full scans, and RSS over time.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { liveCommand, ROOT } from "../test/fixtures/live/cli.js";
import { createNamespace, fillTableToMax, kernelTestSupport, type Ns } from "../test/helpers/netns.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const ENTRIES = flag("--entries", 200_000);
const RUNS = flag("--runs", 5);
const SECONDS = flag("--seconds", 65);
const which = argv.filter((a) => !a.startsWith("--") && !/^\d+$/.test(a));
const want = (name: string) => which.length === 0 || which.includes(name);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${x.toFixed(0)} ms`;

/** UDP datagrams to destinations the namespace drops: UNREPLIED entries that stay for an hour. */
const FILL_PY = `
import socket, struct, sys
sockets, per = int(sys.argv[1]), int(sys.argv[2])
base = struct.unpack("!I", socket.inet_aton("127.64.0.0"))[0]
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(sockets)]
for s in socks: s.bind(("127.0.0.1", 0))
for i in range(per):
    a = (socket.inet_ntoa(struct.pack("!I", base + i)), 7001)
    for s in socks: s.sendto(b"x", a)
`;

/** New flows to fresh destinations, forever: each is dropped once the table is full. */
const FLOOD_PY = `
import socket, struct, time, sys
rate = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 41000))
base = struct.unpack("!I", socket.inet_aton("127.100.0.0"))[0]
i = 0
while True:
    t = time.monotonic()
    for _ in range(rate // 10):
        try: u.sendto(b"f", (socket.inet_ntoa(struct.pack("!I", base + (i % 3000000))), 7002))
        except PermissionError: pass
        i += 1
    time.sleep(max(0, 0.1 - (time.monotonic() - t)))
`;

async function timed(ns: Ns, shell: string): Promise<number> {
  const t = performance.now();
  const r = await ns.exec("sh", ["-c", shell], { allowFail: true, timeoutMs: 300_000 });
  const d = performance.now() - t;
  if (r.code !== 0) throw new Error(`${shell}: exit ${r.code}: ${r.stderr.trim()}`);
  return d;
}

async function count(ns: Ns): Promise<number> {
  return Number((await ns.exec("cat", ["/proc/sys/net/netfilter/nf_conntrack_count"])).stdout.trim());
}

async function snapshotBench(shape: "clients" | "distinct"): Promise<void> {
  const ns = await createNamespace("lbench");
  try {
    await ns.sysctl("net.netfilter.nf_conntrack_udp_timeout", 3600);
    const [sockets, per] = shape === "clients" ? [200, Math.ceil(ENTRIES / 200)] : [1, ENTRIES];
    const py = join(ns.dir, "fill.py");
    writeFileSync(py, FILL_PY);
    await ns.exec("python3", [py, String(sockets), String(per)], { timeoutMs: 300_000 });
    const n = await count(ns);
    const cli = liveCommand()
      .map((a) => `'${a}'`)
      .join(" ");
    const cases: Array<[string, string]> = [
      ["cat /proc/net/nf_conntrack", "cat /proc/net/nf_conntrack > /dev/null"],
      ["--live --once --json --source netlink", `node ${cli} --once --json --source netlink > /dev/null`],
      ["--live --once --json --source proc", `node ${cli} --once --json --source proc > /dev/null`],
      ["--live --once --json --source conntrack", `node ${cli} --once --json --source conntrack > /dev/null`],
      ["conntrack -L -o extended", "conntrack -L -o extended > /dev/null 2>&1"],
    ];
    const results = new Map<string, number[]>(cases.map(([k]) => [k, []]));
    // Interleaved runs: machine noise hits every case alike.
    for (let r = 0; r < RUNS; r++) for (const [k, sh] of cases) results.get(k)!.push(await timed(ns, sh));
    const base = median(results.get("cat /proc/net/nf_conntrack")!);
    console.log(`\nsnapshot, shape ${shape}: ${n.toLocaleString("en-US")} entries, median of ${RUNS} (whole process)`);
    for (const [k] of cases) {
      const m = median(results.get(k)!);
      console.log(
        `  ${k.padEnd(42)} ${ms(m).padStart(9)}  ${(m / base).toFixed(2)}x cat   [${results
          .get(k)!
          .map((x) => x.toFixed(0))
          .join(", ")}]`,
      );
    }
  } finally {
    await ns.destroy();
  }
}

async function floodBench(): Promise<void> {
  const ns = await createNamespace("lbflood");
  const session = `ctscope-bench-${process.pid}`;
  const trace = join(ns.dir, "trace.ndjson");
  try {
    const f = await fillTableToMax(ns, { deadlineSec: 120 });
    console.log(`\nflood: table filled to ${f.count.toLocaleString("en-US")} / ${f.max.toLocaleString("en-US")} in ${f.fillSeconds} s`);
    const py = join(ns.dir, "flood.py");
    writeFileSync(py, FLOOD_PY);
    ns.spawn("python3", [py, "20000"]);
    const cli = liveCommand()
      .map((a) => `'${a}'`)
      .join(" ");
    writeFileSync(trace, "");
    const cmd = `cd '${ROOT}'; CTSCOPE_LIVE_TRACE='${trace}' ip netns exec ${ns.name} node ${cli} --interval 1; sleep 600`;
    execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd]);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const screen = execFileSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" });
    execFileSync("tmux", ["send-keys", "-t", session, "q"]);
    await new Promise((r) => setTimeout(r, 1000));
    const ticks = readFileSync(trace, "utf8")
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            t: number;
            tick: number;
            scan: number;
            scan_ms: number | null;
            rss: number;
            heap: number;
            scan_heap: number | null;
            recycled: number;
            cpu_ms: number;
          },
      );
    // One trace line per tick, plus one when the first scan arrives between ticks.
    const perTick = ticks.filter((x, i) => i === 0 || x.tick !== ticks[i - 1]!.tick);
    const gaps = perTick.slice(1).map((x, i) => x.t - perTick[i]!.t);
    const scans = new Map<number, number>();
    for (const x of ticks) if (x.scan > 0 && x.scan_ms !== null) scans.set(x.scan, x.scan_ms);
    const rss = perTick.map((x) => x.rss / 1e6);
    const third = Math.floor(rss.length / 3);
    const mid = rss.slice(third, 2 * third);
    const last = rss.slice(2 * third);
    console.log(`view for ${SECONDS} s at --interval 1 under a flood of 20,000 new flows/s (all dropped):`);
    console.log(
      `  refreshes: ${perTick.length}; gap between refreshes: median ${ms(median(gaps))}, min ${ms(Math.min(...gaps))}, max ${ms(Math.max(...gaps))}`,
    );
    console.log(`  full scans: ${scans.size}, each ${[...scans.values()].map((x) => (x / 1000).toFixed(1)).join(", ")} s`);
    console.log(
      `  RSS: first ${rss[0]!.toFixed(0)} MB, max ${Math.max(...rss).toFixed(0)} MB; middle third mean ${(mid.reduce((a, b) => a + b, 0) / mid.length).toFixed(0)} MB, last third mean ${(last.reduce((a, b) => a + b, 0) / last.length).toFixed(0)} MB, last ${rss[rss.length - 1]!.toFixed(0)} MB`,
    );
    console.log(`  scan workers replaced for their heap: ${ticks[ticks.length - 1]!.recycled}`);
    // CPU of the whole ctscope process (every thread), averaged over the session and over 10 s windows.
    const first = perTick[0]!;
    const lastTick = perTick[perTick.length - 1]!;
    const windows: number[] = [];
    for (let i = 10; i < perTick.length; i++) {
      const a = perTick[i - 10]!;
      const b = perTick[i]!;
      windows.push((b.cpu_ms - a.cpu_ms) / (b.t - a.t));
    }
    console.log(
      `  CPU (cores): average ${((lastTick.cpu_ms - first.cpu_ms) / (lastTick.t - first.t)).toFixed(2)}, busiest 10 s window ${Math.max(...windows).toFixed(2)}`,
    );
    console.log(
      "  RSS every 5 s (MB):",
      perTick
        .filter((_, i) => i % 5 === 0)
        .map((x) => (x.rss / 1e6).toFixed(0))
        .join(" "),
    );
    console.log(
      "  last screen:\n" +
        screen
          .split("\n")
          .slice(0, 12)
          .map((l) => `    ${l}`)
          .join("\n"),
    );
  } finally {
    try {
      execFileSync("tmux", ["kill-session", "-t", session], { stdio: "ignore" });
    } catch {
      // already gone
    }
    await ns.destroy();
  }
}

const support = kernelTestSupport();
if (!support.ok) {
  console.log(`live-bench: cannot run: ${support.reason}`);
  process.exit(0);
}
// A private copy of the addon: a rebuild of build/ during the runs must not change what is measured.
const built = join(ROOT, "build", "Release", "ctscope.node");
const copy = join(tmpdir(), `ctscope-live-bench-${process.pid}.node`);
if (!process.env.CTSCOPE_ADDON_PATH && existsSync(built)) {
  copyFileSync(built, copy);
  process.env.CTSCOPE_ADDON_PATH = copy;
  process.on("exit", () => rmSync(copy, { force: true }));
}
if (want("snapshot")) {
  await snapshotBench("clients");
  await snapshotBench("distinct");
}
if (want("flood")) await floodBench();
