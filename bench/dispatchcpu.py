#!/usr/bin/env python3
"""bench/dispatchcpu.py - where the CPU of 1, 2 and 4 dispatchers goes.

    python3 bench/dispatchcpu.py --build BUILD --out OUT [--n 5000] [--ks 1,2,4]
                                 [--runs 3] [--drivers postgres,sqlite]
                                 [--sample] [--strace] [--ini TEXT]

The `dispatch` section's workload (bench.py: N queued notifications of
about 2 KiB, K `tickler tick` processes draining one outbox to smtp-sink),
with each process's CPU measured instead of the rate alone:

- the dispatchers: utime + stime of each tickler (wait4);
- the PostgreSQL backends: the postmaster's reaped children (cutime +
  cstime: every backend of the K ticks, once they exited) and its live
  children (the WAL writer, checkpointer, ...: "background");
- smtp-sink: its own utime + stime (/proc) just before it is stopped;
- the whole machine: /proc/stat's busy and idle time over the run, so
  what the other processes of a shared VM took is seen too.

Per K: msg/s, CPU microseconds per message of each part, the cores the
run kept busy (its CPU over its wall), and the ceiling: 2 cores over the
CPU a message costs at that K (msg/s), as a multiple of the one
dispatcher's measured rate.  A run whose own processes keep 2 cores
busy cannot go faster by adding dispatchers.

--sample: a separate run per K in which a procedure on the server samples
pg_stat_activity every 2 ms (the ticks' backends: active on CPU, waiting
for a lock, for WAL I/O, or idle waiting for the client), so lock waits
between dispatchers show as a share of the samples.
--strace: a separate run per K with every tickler under strace -f -yy -T:
round trips per message on the store's sockets (dispatchcount.py's parser).

OUT must hold bench/run.sh's helpers (`TICKLER_BUILD=BUILD BENCH_OUT=OUT
bench/run.sh --only none`).
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dispatchcount  # noqa: E402

TCK = os.sysconf("SC_CLK_TCK")

SAMPLER = """
CREATE TABLE IF NOT EXISTS tk_samples (k int, run int, t int, pid int, state text,
                                       wtype text, wevent text);
CREATE OR REPLACE PROCEDURE tk_sample(kk int, rr int) LANGUAGE plpgsql AS $$
DECLARE i int := 0; seen boolean := false; n int;
BEGIN
  LOOP
    INSERT INTO tk_samples SELECT kk, rr, i, pid, state, wait_event_type, wait_event
      FROM pg_stat_activity WHERE datname = 'tkbench' AND application_name = 'tickler';
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN seen := true; END IF;
    EXIT WHEN (seen AND n = 0) OR i > 30000;
    COMMIT;
    PERFORM pg_stat_clear_snapshot();
    PERFORM pg_sleep(0.002);
    i := i + 1;
  END LOOP;
  COMMIT;
END $$;
"""


def machine():
    """(busy, idle) jiffies of all CPUs (/proc/stat)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f[:8]) - idle, idle


def own_cpu(pid):
    """(user, system) seconds of PID itself."""
    st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(st[11]) / TCK, int(st[12]) / TCK


def reaped_cpu(pgdir):
    """(user, system) seconds of the postmaster's reaped children."""
    pid = int(open(os.path.join(pgdir, "data", "postmaster.pid")).readline())
    st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(st[13]) / TCK, int(st[14]) / TCK


class Cpu(dispatchcount.Counter):
    def ticks(self, cfg, k, wrap=None):
        """K ticks at once; (wall, [cpu of each], sink cpu, delivered)."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
        sink = self.sink_start_at(self.port)
        t0 = time.perf_counter()
        ps = []
        for i in range(k):
            argv = [self.bin, "-c", cfg, "--now", now, "tick"]
            if wrap:
                argv = wrap(i) + argv
            ps.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL))
        cpus = []
        for p in ps:
            _, status, ru = os.wait4(p.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError("a tick failed")
            cpus.append((ru.ru_utime, ru.ru_stime))
        dt = time.perf_counter() - t0
        sink_cpu = own_cpu(sink[0].pid)
        _, m = self.sink_stop(sink)
        return dt, cpus, sink_cpu, m

    def one(self, driver, n, k):
        cfg = self.fresh(driver, n)
        s0 = dispatchcount.server_cpu(self.pgdir) if driver == "postgres" else (0, 0)
        r0 = reaped_cpu(self.pgdir) if driver == "postgres" else (0, 0)
        m0 = machine()
        dt, cpus, sink, m = self.ticks(cfg, k)
        m1 = machine()
        time.sleep(0.3)  # the backends exit and are reaped
        s1 = dispatchcount.server_cpu(self.pgdir) if driver == "postgres" else (0, 0)
        r1 = reaped_cpu(self.pgdir) if driver == "postgres" else (0, 0)
        if m < n:
            raise RuntimeError("%s k=%d: delivered %d of %d" % (driver, k, m, n))
        return {"wall": dt, "tickler": sum(u + s for u, s in cpus),
                "tickler_sys": sum(s for _, s in cpus), "backend": (s1[0] - s0[0]) / TCK,
                "backend_sys": r1[1] - r0[1], "sink_sys": sink[1], "sink": sink[0] + sink[1],
                "background": (s1[1] - s0[1]) / TCK,
                "machine_busy": (m1[0] - m0[0]) / TCK, "machine_idle": (m1[1] - m0[1]) / TCK,
                "dup": m - n}

    def sample(self, driver, n, k, run):
        """pg_stat_activity sampled on the server during one run of K."""
        cfg = self.fresh(driver, n)
        argv = ["psql", "-h", self.pgdir, "-p", str(self.pgport), "-U", "postgres", "-d",
                "postgres", "-XAtqc", "CALL tk_sample(%d, %d)" % (k, run)]
        th = subprocess.Popen(argv)
        time.sleep(0.2)
        self.ticks(cfg, k)
        th.wait()

    def strace_run(self, driver, n, k):
        cfg = self.fresh(driver, n)
        paths = [os.path.join(self.work, "trace.%d.%d" % (k, i)) for i in range(k)]
        self.ticks(cfg, k, lambda i: ["strace", "-f", "-yy", "-T", "-qq", "-o", paths[i], "-e",
                                      "trace=sendto,recvfrom,read,write,writev,poll,ppoll"])
        tot = {}
        for p in paths:
            for key, v in self.parse_trace(p, n).items():
                tot[key] = tot.get(key, 0) + v
        return tot


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--ks", default="1,2,4")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--drivers", default="postgres,sqlite")
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--ini", default="", help="appended to the config (\\n for newlines)")
    a = ap.parse_args()
    args = argparse.Namespace(quick=True, out=a.out, build=a.build, only=None, scale_case=None)
    c = Cpu(args)
    c.conns = 1
    c.extra = a.ini
    c.pg_prep = ""
    ks = [int(x) for x in a.ks.split(",")]
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    try:
        for d in a.drivers.split(","):
            c.prepare(d, a.n)
            rate1 = None
            res = {k: [] for k in ks}
            for r in range(a.runs):  # K alternated within each run
                for k in ks:
                    res[k].append(c.one(d, a.n, k))
            for k in ks:
                runs = res[k]
                med = {key: statistics.median(x[key] for x in runs) for key in runs[0]}
                rate = a.n / med["wall"]
                if k == ks[0]:
                    rate1 = rate
                per = {key: med[key] / a.n * 1e6 for key in
                       ("tickler", "backend", "background", "sink")}
                ours = sum(per.values())
                cores = ours * 1e-6 * rate
                others = (med["machine_busy"] - ours * 1e-6 * a.n) / med["wall"]
                ceil = 2 / (ours * 1e-6)
                sys_ = {key: med[key + "_sys"] / a.n * 1e6 for key in ("tickler", "backend", "sink")}
                print("%s k=%d: %.0f msg/s (walls %s) | CPU us/msg (of it system) tickler %.0f (%.0f) "
                      "backend %.0f (%.0f) background %.0f sink %.0f (%.0f) = %.0f | ours keep %.2f cores busy, the rest "
                      "of the machine %.2f, idle %.2f | ceiling at this CPU/msg %.0f msg/s = "
                      "%.2fx the first K's rate | dup %d"
                      % (d, k, rate, " ".join("%.2f" % x["wall"] for x in runs), per["tickler"],
                         sys_["tickler"], per["backend"], sys_["backend"], per["background"],
                         per["sink"], sys_["sink"], ours, cores, others,
                         med["machine_idle"] / med["wall"], ceil, ceil / rate1,
                         max(x["dup"] for x in runs)), flush=True)
            if a.sample and d == "postgres":
                c.psql(SAMPLER, db="postgres")
                c.psql("TRUNCATE tk_samples", db="postgres")
                for k in ks:
                    c.sample(d, a.n, k, 0)
                out = subprocess.run(
                    ["psql", "-h", c.pgdir, "-p", str(c.pgport), "-U", "postgres", "-d",
                     "postgres", "-XAtF", " ", "-c",
                     "SELECT k, coalesce(state, '-') || '/' || coalesce(wtype, 'CPU') || '/' || "
                     "coalesce(wevent, '-'), count(*), round(100.0 * count(*) / sum(count(*)) "
                     "OVER (PARTITION BY k), 1) FROM tk_samples GROUP BY 1, 2 ORDER BY 1, 3 DESC"],
                    capture_output=True, text=True).stdout
                print("pg_stat_activity samples (k, state/wait type/event, samples, %):")
                print(out, flush=True)
            if a.strace:
                for k in ks:
                    t = c.strace_run(d, a.n, k)
                    print("%s k=%d strace: round trips/msg %.3f sends %.3f recvs %.3f "
                          "relay writes %.3f" % (d, k, t["round_trips_msg"], t["pg_sends_msg"],
                                                 t["pg_recvs_msg"], t["relay_writes_msg"]),
                          flush=True)
            c.postgres_stop()
    finally:
        c.postgres_stop()


if __name__ == "__main__":
    main()
