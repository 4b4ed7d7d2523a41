"""How config values read in PromQL and in prose: numbers without float noise,
shares as percentages, Prometheus durations in words."""
import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")


def num(x):
    """0.072 -> "0.072", 6.0 -> "6", 1e-09 -> "1e-09"."""
    return "%g" % x


def pct(share):
    """0.072 -> "7.2%", 0.995 -> "99.5%"."""
    return num(round(share * 100, 10)) + "%"


def points(share):
    """0.25 -> "25 points" (a difference of two shares)."""
    return num(round(share * 100, 10)) + " points"


def seconds(duration):
    """A Prometheus duration of one unit ("5m", "30d") in seconds."""
    m = _DURATION.match(duration)
    if not m:
        raise ValueError("not a one-unit Prometheus duration: %r" % duration)
    return int(m.group(1)) * _UNITS[m.group(2)]


def words(duration):
    """"5m" -> "5 minutes", "1h" -> "1 hour", "1h" with article=True -> "an hour"."""
    m = _DURATION.match(duration)
    if not m or m.group(2) == "ms":
        raise ValueError("not a duration in s, m, h, d or w: %r" % duration)
    n, unit = int(m.group(1)), _WORDS[m.group(2)]
    return "%d %s%s" % (n, unit, "" if n == 1 else "s")


def the_last(duration):
    """"5m" -> "the last 5 minutes", "1h" -> "the last hour"."""
    text = words(duration)
    return "the last " + (text[2:] if text.startswith("1 ") else text)


def latency(seconds_value):
    """0.5 -> "500ms", 2 -> "2s"."""
    if seconds_value < 1:
        return num(round(seconds_value * 1000, 6)) + "ms"
    return num(seconds_value) + "s"


def adjective(duration):
    """"30d" -> "30-day", "6h" -> "6-hour"."""
    n, unit = words(duration).split(" ")
    return "%s-%s" % (n, unit.rstrip("s"))
