#!/usr/bin/env python3
"""bench/dispatchcount.py - one dispatcher's costs per message, load-independent.

    python3 bench/dispatchcount.py --build BUILD --out OUT [--n 1000] [--conns 1]
                                   [--drivers sqlite,postgres] [--runs 3]

OUT must hold bench/run.sh's helpers (OUT/bin/seed: run `TICKLER_BUILD=BUILD
BENCH_OUT=OUT bench/run.sh --only none` once).  For each driver it queues N
notifications with bench.py's dispatch_store (the `dispatch` section's
workload: 2 KiB messages, smtp-sink) and delivers them with one `tickler
tick`, several times from the same queued rows:

- wall seconds and the tickler process's CPU (medians of RUNS);
- the PostgreSQL server's CPU per message (utime + stime of the postmaster,
  its reaped children and its live children, /proc, before and after);
- round trips per message on the store's socket (strace -f -yy: sends that
  follow a receive, and receives), and where the dispatcher waits: the sum
  of the times of its blocking calls (poll, recv, read) on the store's
  socket and on the relay's (strace -T; strace slows everything, so the
  split is what counts, not the sum);
- tickler's instructions per message (callgrind, whole process);
- on PostgreSQL, the outbox's updates per message, the HOT ones among them
  (no new index entry), and the buffer accesses in its indexes and heap
  (pg_stat_user_tables, pg_statio_user_*), the WAL bytes and the statements
  the server ran per message (pg_current_wal_insert_lsn, pg_stat_statements;
  --statements prints the most frequent).

--pg-prep "SQL; SQL" runs on the queued PostgreSQL store before the runs
(a storage parameter or an index measured by hand; VACUUM works, each
statement goes on its own).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402


def proc_cpu(pid):
    """utime+stime+cutime+cstime of PID, in clock ticks."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])


def server_cpu(pgdir):
    """CPU ticks of the cluster: the postmaster with its reaped children
    (the tick's backend, once it has exited), and its live children (the
    WAL writer, checkpointer, autovacuum)."""
    pid = int(open(os.path.join(pgdir, "data", "postmaster.pid")).readline())
    return proc_cpu(pid), background_cpu(pid)


def background_cpu(pid):
    total = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()
                if int(st[1]) == pid:
                    total += int(st[11]) + int(st[12])
            except OSError:
                pass
    return total


class Counter(bench.Bench):
    def fresh(self, driver, n):
        """A config delivering the N queued rows of the template store."""
        if driver == "sqlite":
            dst = self.copy_store(self.template_sqlite, "count")
            return self.smtp_cfg("count", dst, self.port, conns=self.conns,
                                 extra=self.extra.replace("\\n", "\n") + "\n")
        self.psql("DROP DATABASE IF EXISTS tkbench", db="postgres")
        self.psql("CREATE DATABASE tkbench TEMPLATE tktemplate", db="postgres")
        cfg = self.pg_cfg(self.port)
        if self.conns > 1:
            text = open(cfg).read().replace("[transport]\n", "[transport]\nconnections = %d\n"
                                            % self.conns)
            open(cfg, "w").write(text)
        if self.extra:
            with open(cfg, "a") as f:
                f.write(self.extra.replace("\\n", "\n") + "\n")
        return cfg

    def prepare(self, driver, n):
        self.port = self.free_port()
        if driver == "sqlite":
            mk = self.dispatch_store("sqlite", n)
            cfg = mk(self.port)
            self.template_sqlite = open(cfg).read().split("path = ")[1].split("\n")[0]
        else:
            self.pg_options = " -c shared_preload_libraries=pg_stat_statements"
            why = self.postgres_start()
            if why:
                raise RuntimeError(why)
            self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db="template1")
            self.dispatch_store("postgres", n)
            for sql in filter(None, (x.strip() for x in self.pg_prep.split(";"))):
                self.psql(sql)  # one at a time: VACUUM runs outside a transaction
            self.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = 'tkbench' AND pid <> pg_backend_pid()", db="postgres")
            self.psql("ALTER DATABASE tkbench RENAME TO tktemplate", db="postgres")

    def tick(self, cfg, wrap=()):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
        sink = self.sink_start_at(self.port)
        t0 = time.perf_counter()
        p = subprocess.Popen(list(wrap) + [self.bin, "-c", cfg, "--now", now, "tick"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        _, m = self.sink_stop(sink)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("tick failed: %s" % err.decode(errors="replace")[-400:])
        return dt, ru.ru_utime + ru.ru_stime, m

    def sink_start_at(self, port):
        real = self.free_port
        self.free_port = lambda: port
        try:
            return self.sink_start()
        finally:
            self.free_port = real

    def measure(self, driver, n):
        self.prepare(driver, n)
        out = {}
        walls, cpus, srv = [], [], []
        for _ in range(self.nruns):
            cfg = self.fresh(driver, n)
            s0 = server_cpu(self.pgdir) if driver == "postgres" else (0, 0)
            dt, cpu, m = self.tick(cfg)
            time.sleep(0.2)  # the backend exits and is reaped
            s1 = server_cpu(self.pgdir) if driver == "postgres" else (0, 0)
            if m != n:
                raise RuntimeError("%s: delivered %d of %d" % (driver, m, n))
            walls.append(dt)
            cpus.append(cpu)
            srv.append(((s1[0] - s0[0]) / os.sysconf("SC_CLK_TCK"),
                        (s1[1] - s0[1]) / os.sysconf("SC_CLK_TCK")))
        out["wall_s"] = statistics.median(walls)
        out["msg_s"] = n / out["wall_s"]
        out["tickler_cpu_us_msg"] = statistics.median(cpus) / n * 1e6
        if driver == "postgres":
            out["backend_cpu_us_msg"] = statistics.median(x[0] for x in srv) / n * 1e6
            out["background_cpu_us_msg"] = statistics.median(x[1] for x in srv) / n * 1e6
        if driver == "postgres":
            # the server's work: transactions and rows written per message
            # (this VM has no hardware counters for perf)
            cfg = self.fresh(driver, n)
            q = ("SELECT xact_commit + xact_rollback, tup_updated + tup_inserted FROM "
                 "pg_stat_database WHERE datname = 'tkbench'")
            # the outbox's updates, the HOT ones (no index entry), and the
            # index entries written (blocks touched in its indexes)
            qt = ("SELECT n_tup_upd, n_tup_hot_upd, (SELECT sum(idx_blks_hit + idx_blks_read) "
                  "FROM pg_statio_user_indexes WHERE relname = 'outbox'), (SELECT "
                  "heap_blks_hit + heap_blks_read FROM pg_statio_user_tables WHERE relname = "
                  "'outbox') FROM pg_stat_user_tables WHERE relname = 'outbox'")
            # WAL written (bytes between two insert positions) and the
            # statements the server ran (pg_stat_statements, preloaded by
            # prepare(): BEGIN, COMMIT and set_config count as statements)
            qw = "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"
            qs = "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = " \
                 "(SELECT oid FROM pg_database WHERE datname = 'tkbench')"
            self.stat("SELECT 1 FROM (SELECT pg_stat_statements_reset()) r", db="tkbench")
            a0 = self.stat(q)
            t0 = self.stat(qt, db="tkbench")
            w0 = self.stat(qw)
            self.tick(cfg)
            time.sleep(0.6)  # the statistics are flushed at the session's end
            w1 = self.stat(qw)
            a1 = self.stat(q)
            t1 = self.stat(qt, db="tkbench")
            s1 = self.stat(qs, db="tkbench")
            out["server_wal_bytes_msg"] = (w1[0] - w0[0]) / n
            out["server_statements_msg"] = s1[0] / n
            if self.verbose_statements:
                print(subprocess.run(
                    ["psql", "-h", self.pgdir, "-p", str(self.pgport), "-U", "postgres", "-d",
                     "tkbench", "-XAtc", "SELECT calls, left(regexp_replace(query, '\\s+', ' ', "
                     "'g'), 110) FROM pg_stat_statements ORDER BY calls DESC LIMIT 12"],
                    capture_output=True, text=True).stdout, flush=True)
            out["server_xacts_msg"] = (a1[0] - a0[0]) / n
            out["server_rows_written_msg"] = (a1[1] - a0[1]) / n
            out["outbox_updates_msg"] = (t1[0] - t0[0]) / n
            out["outbox_hot_updates_msg"] = (t1[1] - t0[1]) / n
            # buffer accesses (hits + reads) in the outbox's 8 indexes and
            # in its heap: the index work that HOT updates save
            out["outbox_index_buffers_msg"] = (t1[2] - t0[2]) / n
            out["outbox_heap_buffers_msg"] = (t1[3] - t0[3]) / n
        # strace: round trips and waits
        cfg = self.fresh(driver, n)
        trace = os.path.join(self.work, "trace.txt")
        self.tick(cfg, ["strace", "-f", "-yy", "-T", "-qq", "-o", trace, "-e",
                        "trace=sendto,recvfrom,read,write,writev,poll,ppoll,fdatasync,fsync"])
        out.update(self.parse_trace(trace, n))
        # callgrind: instructions in tickler
        cfg = self.fresh(driver, n)
        cg = os.path.join(self.work, "cg.out")
        self.tick(cfg, ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg])
        txt = subprocess.run(["callgrind_annotate", cg], capture_output=True, text=True).stdout
        mm = re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", txt) or \
            re.search(r"([\d,]+)\s+PROGRAM TOTALS", txt)
        out["tickler_instr_msg"] = int(mm.group(1).replace(",", "")) / n if mm else None
        return out

    def stat(self, sql, db="postgres"):
        txt = subprocess.run(["psql", "-h", self.pgdir, "-p", str(self.pgport), "-U", "postgres",
                              "-d", db, "-XAtc", sql], capture_output=True, text=True).stdout
        return [int(x) for x in txt.strip().split("|")]

    def parse_trace(self, path, n):
        pg_send = pg_recv = smtp_send = 0
        wait = {"store": 0.0, "relay": 0.0, "disk": 0.0}
        trips = 0
        last = None
        rx = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+).*<([\d.]+)>$")
        # with several threads strace splits a call that another thread's
        # call interrupts: "PID call(args <unfinished ...>", later "PID <...
        # call resumed>rest"; joined here, or those calls went uncounted
        # (the settler's and the worker's store and relay calls overlap)
        held = {}
        for raw in open(path):
            line = raw.strip()
            pid = line.split(None, 1)[0] if line else ""
            if line.endswith("<unfinished ...>"):
                held[pid] = line[:-len("<unfinished ...>")].rstrip()
                continue
            r = re.match(r"^(\d+)\s+<\.\.\. \w+ resumed>(.*)$", line)
            if r:
                line = held.pop(r.group(1), r.group(1) + " ?(") + r.group(2)
            m = rx.match(line)
            if not m:
                continue
            call, args, ret, dur = m.group(1), m.group(2), int(m.group(3)), float(m.group(4))
            head = args[:200]
            store = "UNIX-STREAM" in head  # libpq's socket (the cluster listens on a folder)
            relay = ":%d]" % self.port in head or ("->127.0.0.1:%d" % self.port) in head
            if call in ("fdatasync", "fsync"):
                wait["disk"] += dur
                continue
            if call in ("sendto", "write", "writev"):
                if store and ret > 0:
                    pg_send += 1
                    if last != "send":
                        trips += 1
                    last = "send"
                elif relay and ret > 0:
                    smtp_send += 1
            elif call in ("recvfrom", "read", "poll", "ppoll"):
                if store:
                    if call in ("recvfrom", "read") and ret > 0:
                        pg_recv += 1
                        last = "recv"
                    wait["store"] += dur
                elif relay:
                    wait["relay"] += dur
        return {"pg_sends_msg": pg_send / n, "pg_recvs_msg": pg_recv / n,
                "round_trips_msg": trips / n, "relay_writes_msg": smtp_send / n,
                "wait_store_ms_total": wait["store"] * 1e3, "wait_relay_ms_total": wait["relay"] * 1e3,
                "wait_disk_ms_total": wait["disk"] * 1e3}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--drivers", default="sqlite,postgres")
    ap.add_argument("--statements", action="store_true",
                    help="print the PostgreSQL statements run most often in the counted tick")
    ap.add_argument("--ini", default="", help="appended to the config (\\n for newlines)")
    ap.add_argument("--pg-prep", default="",
                    help="SQL run on the PostgreSQL store once it is queued (measure a storage "
                         "parameter or an index by hand)")
    a = ap.parse_args()
    args = argparse.Namespace(quick=True, out=a.out, build=a.build, only=None, scale_case=None)
    c = Counter(args)
    c.nruns = a.runs
    c.conns = a.conns
    c.extra = a.ini
    c.pg_prep = a.pg_prep
    c.verbose_statements = a.statements
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    try:
        for d in a.drivers.split(","):
            r = c.measure(d, a.n)
            print(d, " ".join("%s=%.3g" % (k, v) for k, v in r.items() if v is not None), flush=True)
    finally:
        c.postgres_stop()
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
