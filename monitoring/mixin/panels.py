"""Small Grafana panel helpers: each returns a panel without position; `layout`
places rows and their panels on Grafana's 24-column grid, left to right.

Every panel with queries reads the provisioned datasource (uid "prometheus"); a
query is `query(expr, legend)` (a range query) or `query(..., instant=True)`.
"""
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
GRID_WIDTH = 24


def query(expr, legend, instant=False, **extra):
    return {"datasource": DATASOURCE, "editorMode": "code", "expr": expr, "legendFormat": legend,
            "range": not instant, "instant": instant, **extra}


def steps(base, *above):
    """Thresholds: the colour of everything, then (colour, from value) pairs upwards."""
    return {"mode": "absolute",
            "steps": [{"color": base, "value": None}] + [{"color": c, "value": v} for c, v in above]}


GREEN = steps("green")
TEXT = {"mode": "fixed", "fixedColor": "text"}
PALETTE = {"mode": "palette-classic"}
REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _panel(kind, id, title, description, w, h, queries, defaults, options, overrides=None, **extra):
    p = {"id": id, "type": kind, "title": title, "description": description}
    if queries:
        p["datasource"] = DATASOURCE
    p["gridPos"] = {"h": h, "w": w}
    p.update(extra)
    p["fieldConfig"] = {"defaults": {k: v for k, v in defaults.items() if v is not None},
                        "overrides": overrides or []}
    p["options"] = options
    if queries:
        p["targets"] = [{"refId": chr(ord("A") + i), **q} for i, q in enumerate(queries)]
    return p


def stat(id, title, description, unit, queries, w, h, thresholds=GREEN, graph=False, text="auto",
         decimals=None, min=None, max=None, color=None):
    return _panel("stat", id, title, description, w, h, queries,
                  {"unit": unit, "decimals": decimals, "min": min, "max": max, "color": color,
                   "thresholds": thresholds},
                  {"reduceOptions": REDUCE_LAST, "colorMode": "value", "graphMode": "area" if graph else "none",
                   "justifyMode": "auto", "orientation": "auto", "textMode": text, "wideLayout": True,
                   "showPercentChange": False})


def gauge(id, title, description, unit, queries, w, h, thresholds, min=None, max=None):
    return _panel("gauge", id, title, description, w, h, queries,
                  {"unit": unit, "min": min, "max": max, "thresholds": thresholds},
                  {"reduceOptions": REDUCE_LAST, "showThresholdLabels": False, "showThresholdMarkers": True})


def timeseries(id, title, description, unit, queries, w, h, thresholds=None, fill=10, soft_min=0,
               soft_max=None, min=None, max=None, stack=False, overrides=None):
    """Lines per series. With `thresholds`, dashed threshold lines and no fill."""
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0 if thresholds else fill, "showPoints": "never",
              "axisSoftMin": soft_min, "axisSoftMax": soft_max}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    if thresholds:
        custom["thresholdsStyle"] = {"mode": "dashed"}
    return _panel("timeseries", id, title, description, w, h, queries,
                  {"unit": unit, "min": min, "max": max, "thresholds": thresholds or GREEN, "color": PALETTE,
                   "custom": {k: v for k, v in custom.items() if v is not None}},
                  {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "desc"}},
                  overrides)


def negative_y(ref_id):
    """Override: the series of query `ref_id` drawn below the axis."""
    return {"matcher": {"id": "byFrameRefID", "options": ref_id},
            "properties": [{"id": "custom.transform", "value": "negative-Y"}]}


def bargauge(id, title, description, unit, queries, w, h, min=0, max=None):
    return _panel("bargauge", id, title, description, w, h, queries,
                  {"unit": unit, "min": min, "max": max, "thresholds": GREEN},
                  {"reduceOptions": REDUCE_LAST, "orientation": "horizontal", "displayMode": "gradient",
                   "showUnfilled": True, "valueMode": "color", "namePlacement": "auto", "sizing": "auto",
                   "minVizHeight": 16, "minVizWidth": 8, "maxVizHeight": 300})


def piechart(id, title, description, unit, queries, w, h, decimals=None):
    return _panel("piechart", id, title, description, w, h, queries,
                  {"unit": unit, "decimals": decimals, "color": PALETTE, "thresholds": GREEN},
                  {"reduceOptions": REDUCE_LAST, "pieType": "donut", "displayLabels": ["name", "percent"],
                   "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                              "values": ["value"]},
                   "tooltip": {"mode": "single", "sort": "none"}})


def heatmap(id, title, description, unit, queries, w, h):
    """Buckets (`format: heatmap` queries) over time; darker = more."""
    return _panel("heatmap", id, title, description, w, h, queries,
                  {"unit": unit, "custom": {"scaleDistribution": {"type": "linear"}}},
                  {"calculate": False, "cellGap": 1,
                   "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64, "exponent": 0.5,
                             "fill": "dark-orange", "scale": "exponential", "reverse": False},
                   "yAxis": {"axisPlacement": "left", "unit": unit, "reverse": False},
                   "rowsFrame": {"layout": "le"}, "cellValues": {"unit": "short"}, "legend": {"show": True},
                   "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": False},
                   "filterValues": {"le": 1e-09}, "exemplars": {"color": "rgba(255,0,255,0.7)"}},
                  maxDataPoints=60)


def alertlist(id, title, description, w, h):
    """Firing and pending alerts of Prometheus and of Grafana's own rules, critical first."""
    return _panel("alertlist", id, title, description, w, h, [], {"unit": "none"},
                  {"viewMode": "list", "groupMode": "default", "groupBy": [], "maxItems": 20, "sortOrder": 1,
                   "dashboardAlerts": False, "alertName": "", "alertInstanceLabelFilter": "", "folder": None,
                   "showInstances": True,
                   "stateFilter": {"firing": True, "pending": True, "noData": False, "normal": False,
                                   "error": True, "recovering": True}})


def row(id, title, *panels):
    return {"id": id, "type": "row", "title": title, "collapsed": False, "panels": list(panels)}


def layout(rows):
    """The dashboard's flat panel list: each row at full width, then its panels
    left to right, wrapping to a new line when the next one does not fit."""
    out, y = [], 0
    for r in rows:
        header = {k: v for k, v in r.items() if k != "panels"}
        out.append({**header, "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y}, "panels": []})
        y += 1
        x, line_height = 0, 0
        for p in r["panels"]:
            w, h = p["gridPos"]["w"], p["gridPos"]["h"]
            if x + w > GRID_WIDTH:
                y, x, line_height = y + line_height, 0, 0
            out.append({**p, "gridPos": {"h": h, "w": w, "x": x, "y": y}})
            x, line_height = x + w, max(line_height, h)
        y += line_height
    return out
