"""calendar_oracle.py SEED - what Python's zoneinfo says, for test_calendar_zones.

Run with /usr/bin/python3 (Debian's, which has zoneinfo and reads the same
/usr/share/zoneinfo as tickler).  For every zone in the tz database it prints
cases for the C test to compare with core/calendar, one per line:

    U ZONE T  Y M D h m s  OFFSET ABBR    UTC instant T shown as local time
    L ZONE  Y M D h m  T                  the first instant at which the wall
                                          clock reads Y-M-D h:m (in a DST gap:
                                          the first instant after the gap)

Half of the instants sit next to a transition of the zone (one second, one
minute or up to two hours either side), so that DST gaps and overlaps are
what gets checked most.  The same SEED gives the same cases.
"""
import datetime
import random
import sys
import zoneinfo

UTC = datetime.timezone.utc
LO = int(datetime.datetime(1900, 1, 2, tzinfo=UTC).timestamp())
HI = int(datetime.datetime(2199, 12, 30, tzinfo=UTC).timestamp())


def offset(z, t):
    return int(datetime.datetime.fromtimestamp(t, z).utcoffset().total_seconds())


def transitions(z, year):
    """The instants in YEAR at which Z's offset changes (to the second)."""
    start = int(datetime.datetime(year, 1, 1, tzinfo=UTC).timestamp())
    found = []
    prev = offset(z, start)
    for day in range(1, 367):
        t = start + day * 86400
        cur = offset(z, t)
        if cur != prev:
            lo, hi = t - 86400, t  # offset(lo) == prev, offset(hi) == cur
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(z, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
            prev = cur
    return found


def wall(z, t):
    return datetime.datetime.fromtimestamp(t, z).replace(tzinfo=None)


def first_at_or_after(z, local):
    """The first instant whose wall clock reads LOCAL or later."""
    u0 = int(local.replace(tzinfo=z, fold=0).timestamp())
    if wall(z, u0) == local:
        return u0  # fold=0: the earlier of two in an overlap
    lo, hi = u0 - 2 * 86400, u0 + 2 * 86400  # a gap: bisect for the jump
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if wall(z, mid) >= local:
            hi = mid
        else:
            lo = mid
    return hi


def main():
    rnd = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    zones = sorted(n for n in zoneinfo.available_timezones()
                   if not n.startswith(("posix/", "right/")) and n not in ("localtime", "posixrules"))
    out = []
    for name in zones:
        z = zoneinfo.ZoneInfo(name)
        near = []
        for year in (rnd.randint(1900, 2199), rnd.randint(2000, 2100), rnd.randint(2030, 2199)):
            near.extend(transitions(z, year))
        instants = [rnd.randint(LO, HI) for _ in range(3)]
        for _ in range(3):
            if near:
                tr = rnd.choice(near)
                instants.append(tr + rnd.choice([-1, 0, 1, -60, 60, rnd.randint(-7200, 7200)]))
        for t in instants:
            if not LO <= t <= HI:
                continue
            d = datetime.datetime.fromtimestamp(t, z)
            out.append("U %s %d %d %d %d %d %d %d %d %s" % (
                name, t, d.year, d.month, d.day, d.hour, d.minute, d.second,
                offset(z, t), d.tzname()))
        # local times: around a transition (gap or overlap) and anywhere
        locals_ = []
        if near:
            tr = rnd.choice(near)
            for side in (offset(z, tr - 1), offset(z, tr)):
                # the wall clock at the transition, before and after it: the
                # edges of the gap or of the repeated hour
                base = datetime.datetime.fromtimestamp(tr + side, UTC).replace(tzinfo=None)
                delta = rnd.choice([0, -1, 1, rnd.randint(-120, 120)])
                locals_.append((base + datetime.timedelta(minutes=delta)).replace(second=0))
        t = rnd.randint(LO + 86400, HI - 86400)
        locals_.append(wall(z, t).replace(second=0))
        for local in locals_:
            if not 1900 <= local.year <= 2199:
                continue
            u = first_at_or_after(z, local)
            out.append("L %s %d %d %d %d %d %d" % (
                name, local.year, local.month, local.day, local.hour, local.minute, u))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
