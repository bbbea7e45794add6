"""calendar_zonelibs.py BUILD [STEP_DAYS] - which zone library gets the offsets right.

The evidence behind core/calendar's own TZif reader (docs/calendar.md): for
every zone name of the system's tz database, the UTC offset at one instant
every STEP_DAYS days (default 5) from 1900 to 2199, as libical, GLib and
core/calendar compute it, against Python's zoneinfo.  Prints, per library,
how many zones differ anywhere and a few examples with the years.

Needs libical-dev and libglib2.0-dev, cc, and BUILD: a tickler build folder
(its core/libtkcore.a).  Run with /usr/bin/python3.  Takes a few minutes.
Run it again after a Debian upgrade: if libical or GLib gets every zone
right, the calendar could use it instead.
"""
import collections
import datetime
import os
import subprocess
import sys
import tempfile
import zoneinfo

PROBES = {
    "libical": ("""
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    icaltimezone *z = icaltimezone_get_builtin_timezone(argv[1]);
    if (!z) return 1;
    long long t = atoll(argv[2]), step = atoll(argv[3]); int n = atoi(argv[4]);
    for (int i = 0; i < n; i++, t += step) {
        struct icaltimetype tt = icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
        printf("%lld %d\\n", t, icaltimezone_get_utc_offset_of_utc_time(z, &tt, NULL));
    }
    return 0;
}""", "pkg-config --cflags --libs libical"),
    "glib": ("""
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    GTimeZone *z = g_time_zone_new_identifier(argv[1]);
    if (!z) return 1;
    long long t = atoll(argv[2]), step = atoll(argv[3]); int n = atoi(argv[4]);
    for (int i = 0; i < n; i++, t += step)
        printf("%lld %d\\n", t, g_time_zone_get_offset(z, g_time_zone_find_interval(z, G_TIME_TYPE_UNIVERSAL, t)));
    return 0;
}""", "pkg-config --cflags --libs glib-2.0"),
    "core/calendar": ("""
#include "calendar/calendar.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    struct tk_calendar_spec spec = {argv[1], NULL, NULL, NULL};
    struct tk_calendar *cal;
    if (tk_calendar_new(&spec, &cal, NULL)) return 1;
    long long t = atoll(argv[2]), step = atoll(argv[3]); int n = atoi(argv[4]);
    for (int i = 0; i < n; i++, t += step) {
        struct tk_calendar_local l;
        if (tk_calendar_to_local(cal, t, &l, NULL) == 0) printf("%lld %d\\n", t, l.utc_offset);
    }
    return 0;
}""", None),
}


def main():
    build = os.path.abspath(sys.argv[1])
    step = int(float(sys.argv[2] if len(sys.argv) > 2 else 5) * 86400) + 13  # drift through the day
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    start = int(datetime.datetime(1900, 1, 1, 12, tzinfo=datetime.timezone.utc).timestamp())
    end = int(datetime.datetime(2199, 12, 31, tzinfo=datetime.timezone.utc).timestamp())
    count = (end - start) // step
    zones = sorted(n for n in zoneinfo.available_timezones() if not n.startswith(("posix/", "right/")))
    tmp = tempfile.mkdtemp(prefix="tk-zonelibs-")
    for name, (src, flags) in PROBES.items():
        c = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, name.replace("/", "_"))
        with open(c, "w") as f:
            f.write(src)
        if flags:
            extra = subprocess.run(flags, shell=True, capture_output=True, text=True, check=True).stdout.split()
        else:
            extra = ["-I" + os.path.join(root, "core"), "-I" + os.path.join(root, "include"),
                     os.path.join(build, "core", "libtkcore.a")] + \
                subprocess.run("pkg-config --libs libical", shell=True, capture_output=True,
                               text=True, check=True).stdout.split() + ["-lm"]
        subprocess.run(["cc", "-O2", "-o", exe, c] + extra, check=True)
        wrong = collections.Counter()
        years = collections.defaultdict(set)
        refused = []
        for zone in zones:
            p = subprocess.run([exe, zone, str(start), str(step), str(count)], capture_output=True, text=True)
            if p.returncode:
                refused.append(zone)
                continue
            z = zoneinfo.ZoneInfo(zone)
            for line in p.stdout.splitlines():
                t, off = map(int, line.split())
                d = datetime.datetime.fromtimestamp(t, z)
                if int(d.utcoffset().total_seconds()) != off:
                    wrong[zone] += 1
                    years[zone].add(d.year)
        print("%s: %d of %d zones differ from zoneinfo somewhere in 1900-2199 (%d instants each)%s" % (
            name, len(wrong), len(zones) - len(refused), count,
            "; refused: " + " ".join(refused) if refused else ""))
        for zone, n in wrong.most_common(8):
            ys = sorted(years[zone])
            print("    %-32s %6d instants, years %s%s" % (zone, n, " ".join(map(str, ys[:8])),
                                                         " ..." if len(ys) > 8 else ""))


if __name__ == "__main__":
    main()
