// The report page's own script, inlined into the HTML next to uPlot: draws the planned charts (raw
// data faint, an adjustable EMA bold, runs overlaid, hover values in the legend, cursors synced),
// the held-out table, and the trajectory viewer with its filters; on a live dashboard it polls
// data.json and redraws when the run has logged more. Plain ES2017, no build step: it is a string.

export const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var COLORS = ['#1f6feb', '#cf222e', '#1a7f37', '#8250df', '#bc4c00', '#0a7ea4', '#bf3989', '#57606a'];
  var TYPE_ORDER = ['single-hop', 'two-hop', 'comparison'];
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var state = { smoothing: 0.6, run: 0, type: 'all', outcome: 'all', charts: [], signature: '', lastText: '' };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else if (key === 'className') node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child != null) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child); });
    return node;
  }
  function color(index) { return COLORS[index % COLORS.length]; }
  function fmt(value) {
    if (value == null || !isFinite(value)) return '—';
    var magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) return value.toExponential(2);
    return String(Number(value.toPrecision(4)));
  }

  // Debiased exponential moving average, as TensorBoard smooths: the first points are not pulled to 0.
  function ema(values, alpha) {
    var out = new Array(values.length), last = 0, weight = 0;
    for (var i = 0; i < values.length; i++) {
      last = last * alpha + (1 - alpha) * values[i];
      weight = weight * alpha + (1 - alpha);
      out[i] = alpha === 0 ? values[i] : last / weight;
    }
    return out;
  }
  function seriesOf(run, key) {
    var byStep = new Map();
    run.metrics.forEach(function (record) {
      var value = record[key];
      if (typeof record.step === 'number' && typeof value === 'number' && isFinite(value)) byStep.set(record.step, value);
    });
    var steps = Array.from(byStep.keys()).sort(function (a, b) { return a - b; });
    return { x: steps, y: steps.map(function (step) { return byStep.get(step); }) };
  }
  function chartData(chart) {
    var perRun = data.runs.map(function (run) { return seriesOf(run, chart.key); });
    var steps = new Set();
    perRun.forEach(function (series) { series.x.forEach(function (x) { steps.add(x); }); });
    var xs = Array.from(steps).sort(function (a, b) { return a - b; });
    var position = new Map(xs.map(function (x, i) { return [x, i]; }));
    var columns = [xs];
    perRun.forEach(function (series) {
      var raw = xs.map(function () { return null; });
      var smooth = xs.map(function () { return null; });
      var smoothed = ema(series.y, state.smoothing);
      series.x.forEach(function (x, i) { raw[position.get(x)] = series.y[i]; smooth[position.get(x)] = smoothed[i]; });
      columns.push(raw);
      if (!chart.sparse) columns.push(smooth);
    });
    return columns;
  }
  function chartOptions(chart, width) {
    var series = [{ label: 'step' }];
    data.runs.forEach(function (run, r) {
      var value = function (u, v) { return fmt(v); };
      if (chart.sparse) {
        series.push({ label: run.label, stroke: color(r), width: 2, spanGaps: true, value: value, points: { show: true, size: 7, fill: color(r) } });
      } else {
        series.push({ label: run.label + ' raw', stroke: color(r) + '44', width: 1, spanGaps: true, value: value, points: { show: false } });
        series.push({ label: run.label + ' smoothed', stroke: color(r), width: 2, spanGaps: true, value: value, points: { show: false } });
      }
    });
    return {
      title: chart.caption,
      width: width,
      height: 210,
      scales: { x: { time: false } },
      axes: [
        { label: 'step', labelSize: 18, size: 36, incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000] },
        { size: 58, values: function (u, splits) { return splits.map(fmt); } },
      ],
      series: series,
      cursor: { sync: { key: 'sr1-report' } },
      legend: { show: false },
      hooks: { setCursor: [function (u) { readout(u, chart); }], ready: [function (u) { readout(u, chart); }] },
    };
  }
  // One line under each chart: the values at the hovered step (or each run's latest), smoothed
  // bold with the raw value beside it.
  function readout(u, chart) {
    var node = u.root.parentNode && u.root.parentNode.querySelector('.readout');
    if (!node) return;
    var xs = u.data[0];
    var hovered = u.cursor.idx;
    var per = chart.sparse ? 1 : 2;
    node.textContent = '';
    node.appendChild(el('span', { className: 'rv-step', text: hovered != null ? 'step ' + xs[hovered] : 'latest' }));
    data.runs.forEach(function (run, r) {
      var shown = u.data[1 + r * per + per - 1];
      var raw = per === 2 ? u.data[1 + r * per] : null;
      var idx = hovered;
      if (idx == null) for (idx = xs.length - 1; idx >= 0 && shown[idx] == null; idx--);
      var has = idx != null && idx >= 0 && shown[idx] != null;
      node.appendChild(el('span', { className: 'rv' }, [
        el('span', { className: 'swatch', style: 'background:' + color(r) }),
        run.label + ' ',
        el('b', { className: 'value', text: has ? fmt(shown[idx]) : '—' }),
        has && raw ? el('span', { className: 'muted raw', text: ' (raw ' + fmt(raw[idx]) + ')' }) : null,
        has && hovered == null ? el('span', { className: 'muted', text: ' @ ' + xs[idx] }) : null,
      ]));
    });
  }
  function chartWidth(cell) { return Math.max(280, Math.floor(cell.clientWidth || 420)); }

  function drawCharts() {
    var signature = JSON.stringify([data.plan.charts, data.runs.map(function (run) { return run.label; })]);
    if (signature === state.signature) {
      state.charts.forEach(function (entry) { entry.plot.setData(chartData(entry.chart)); readout(entry.plot, entry.chart); });
      return;
    }
    state.signature = signature;
    state.charts.forEach(function (entry) { entry.plot.destroy(); });
    state.charts = [];
    var main = document.getElementById('charts-main');
    var other = document.getElementById('charts-other');
    main.textContent = '';
    other.textContent = '';
    data.plan.charts.forEach(function (chart) {
      var cell = el('div', { className: 'chart', 'data-key': chart.key });
      (chart.main ? main : other).appendChild(cell);
      var create = function () {
        if (cell.firstChild) return;
        var plot = new uPlot(chartOptions(chart, chartWidth(cell)), chartData(chart), cell);
        cell.appendChild(el('div', { className: 'readout' }));
        readout(plot, chart);
        state.charts.push({ chart: chart, plot: plot, cell: cell });
      };
      if (chart.main || document.getElementById('other-metrics').open) create();
      else cell.__create = create;
    });
    document.getElementById('other-count').textContent = String(data.plan.charts.filter(function (c) { return !c.main; }).length);
    if (data.plan.charts.length === 0) main.appendChild(el('p', { className: 'empty', text: 'No metrics logged yet.' }));
    var flat = document.getElementById('flat-metrics');
    flat.textContent = '';
    if (data.plan.flat.length > 0) {
      flat.appendChild(el('span', { text: 'Not drawn, flat in every run: ' }));
      data.plan.flat.forEach(function (metric, i) {
        if (i > 0) flat.appendChild(document.createTextNode('; '));
        flat.appendChild(el('span', { className: 'flat', text: metric.caption + (metric.caption !== metric.key ? ' (' + metric.key + ')' : '') + ': ' + metric.note }));
      });
    }
  }

  function drawRuns() {
    var list = document.getElementById('runs');
    list.textContent = '';
    data.runs.forEach(function (run, r) {
      var steps = run.metrics.reduce(function (max, m) { return typeof m.step === 'number' && m.step > max ? m.step : max; }, 0);
      list.appendChild(el('li', null, [
        el('span', { className: 'swatch', style: 'background:' + color(r) }),
        el('strong', { text: run.label }),
        run.description ? ' — ' + run.description : '',
        el('span', { className: 'muted', text: ' (last logged step ' + steps + ', ' + run.trajectories.length + ' trajectories)' }),
      ]));
    });
  }

  function drawTable() {
    var section = document.getElementById('evaluation');
    var table = document.getElementById('eval-table');
    table.textContent = '';
    var rows = [];
    data.runs.forEach(function (run, r) { run.summaries.forEach(function (row) { rows.push({ run: run, r: r, row: row }); }); });
    section.hidden = rows.length === 0;
    if (rows.length === 0) return;
    var types = [];
    rows.forEach(function (entry) { Object.keys(entry.row.summary.byType || {}).forEach(function (t) { if (types.indexOf(t) < 0) types.push(t); }); });
    types.sort(function (a, b) { return rank(a) - rank(b) || a.localeCompare(b); });
    var several = data.runs.length > 1;
    var head = el('tr', null, (several ? [el('th', { className: 'text', text: 'run' })] : []).concat([el('th', { className: 'text', text: 'method' })],
      types.map(function (t) { return el('th', { text: t + ' EM' }); }), [el('th', { text: 'all EM' }), el('th', { text: 'searches / question' })]));
    table.appendChild(el('thead', null, [head]));
    var body = el('tbody');
    rows.forEach(function (entry) {
      var summary = entry.row.summary;
      var cells = several ? [el('td', { className: 'text' }, [el('span', { className: 'swatch', style: 'background:' + color(entry.r) }), entry.run.label])] : [];
      cells.push(el('td', { className: 'text', text: entry.row.label }));
      types.forEach(function (t) { var s = (summary.byType || {})[t]; cells.push(el('td', { text: s ? s.exactMatch.toFixed(3) : '—' })); });
      cells.push(el('td', { text: summary.exactMatch.toFixed(3) }), el('td', { text: summary.searchesPerQuestion.toFixed(2) }));
      body.appendChild(el('tr', null, cells));
    });
    table.appendChild(body);
  }

  function rank(type) { var i = TYPE_ORDER.indexOf(type); return i < 0 ? TYPE_ORDER.length : i; }
  function fillSelect(select, options, value) {
    select.textContent = '';
    options.forEach(function (option) { select.appendChild(el('option', { value: option.value, text: option.label })); });
    select.value = options.some(function (o) { return o.value === value; }) ? value : options[0].value;
    return select.value;
  }

  function trajectoryNode(t, open) {
    var correct = t.exactMatch === 1;
    var summary = el('summary', null, [
      el('span', { className: 'badge ' + (correct ? 'ok' : 'bad'), text: correct ? '✔ correct' : '✘ wrong' }),
      el('span', { className: 'tag', text: t.type }),
      el('span', { className: 'question', text: t.question }),
      el('span', { className: 'muted', text: ' — gold: ' + t.gold.join(' / ') + ' · answer: ' + (t.answer === null ? '(none)' : t.answer) + ' · ' + t.searches.length + (t.searches.length === 1 ? ' search' : ' searches') }),
    ]);
    var searches = el('ol', { className: 'searches' });
    t.searches.forEach(function (search) {
      searches.appendChild(el('li', null, [
        el('span', { className: 'muted', text: 'turn ' + (search.turn + 1) + ' ' }),
        el('code', { className: 'query', text: search.query }),
        el('ol', { className: 'hits' }, search.hits.map(function (hit) {
          return el('li', null, [el('span', { className: 'hit-title', text: hit.title }), el('span', { className: 'score', text: ' ' + hit.score.toFixed(2) })]);
        })),
      ]));
    });
    var sources = el('ul', { className: 'sources' }, (t.sources || []).map(function (source) {
      return el('li', null, [
        el('span', { className: 'hit-title', text: source.title }),
        el('span', { className: 'muted', text: (source.path ? ' — ' + source.path : '') + ' [' + source.id + ']' }),
        source.containsAnswer ? el('span', { className: 'badge ok', text: ' contains the answer' }) : null,
      ].filter(Boolean));
    }));
    var pre = el('pre', { className: 'trajectory' }, t.segments.map(function (segment) {
      return segment.inserted ? el('mark', { className: 'inserted', text: segment.text }) : document.createTextNode(segment.text);
    }));
    var node = el('details', { className: 'traj', 'data-type': t.type, 'data-outcome': correct ? 'correct' : 'wrong' },
      [summary, t.searches.length > 0 ? searches : el('p', { className: 'muted', text: 'No search.' }),
        (t.sources || []).length > 0 ? el('div', null, [el('span', { className: 'muted', text: 'Sources read:' }), sources]) : null,
        pre].filter(Boolean));
    node.open = open;
    return node;
  }

  function drawTrajectories() {
    var runSelect = document.getElementById('filter-run');
    var withTrajectories = data.runs.map(function (run, i) { return { value: String(i), label: run.label + ' (' + run.trajectories.length + ')' }; });
    state.run = Number(fillSelect(runSelect, withTrajectories, String(state.run)));
    runSelect.parentNode.hidden = data.runs.length < 2;
    var run = data.runs[state.run];
    var all = run ? run.trajectories : [];
    var types = [];
    all.forEach(function (t) { if (types.indexOf(t.type) < 0) types.push(t.type); });
    types.sort(function (a, b) { return rank(a) - rank(b) || a.localeCompare(b); });
    state.type = fillSelect(document.getElementById('filter-type'), [{ value: 'all', label: 'every type' }].concat(types.map(function (t) {
      return { value: t, label: t + ' (' + all.filter(function (x) { return x.type === t; }).length + ')' };
    })), state.type);
    state.outcome = document.getElementById('filter-outcome').value;
    var shown = all.filter(function (t) {
      return (state.type === 'all' || t.type === state.type) &&
        (state.outcome === 'all' || (state.outcome === 'correct') === (t.exactMatch === 1));
    });
    var correct = shown.filter(function (t) { return t.exactMatch === 1; }).length;
    document.getElementById('traj-count').textContent = all.length === 0
      ? 'This run recorded no trajectories.'
      : 'Showing ' + shown.length + ' of ' + all.length + ' trajectories (' + correct + ' correct).';
    var list = document.getElementById('trajectories');
    list.textContent = '';
    shown.forEach(function (t, i) { list.appendChild(trajectoryNode(t, i < 2)); });
  }

  function drawAll() {
    drawRuns();
    drawTable();
    drawCharts();
    drawTrajectories();
  }

  function setup() {
    var slider = document.getElementById('smoothing');
    var shown = document.getElementById('smoothing-value');
    slider.value = String(state.smoothing);
    shown.textContent = state.smoothing.toFixed(2);
    slider.addEventListener('input', function () {
      state.smoothing = Number(slider.value);
      shown.textContent = state.smoothing.toFixed(2);
      state.charts.forEach(function (entry) { entry.plot.setData(chartData(entry.chart)); readout(entry.plot, entry.chart); });
    });
    ['filter-type', 'filter-outcome', 'filter-run'].forEach(function (id) {
      document.getElementById(id).addEventListener('change', function (event) {
        if (id === 'filter-run') state.run = Number(event.target.value);
        if (id === 'filter-type') state.type = event.target.value;
        drawTrajectories();
      });
    });
    document.getElementById('other-metrics').addEventListener('toggle', function () {
      Array.prototype.forEach.call(document.querySelectorAll('#charts-other .chart'), function (cell) {
        if (cell.__create) { cell.__create(); cell.__create = null; }
      });
    });
    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        state.charts.forEach(function (entry) { entry.plot.setSize({ width: chartWidth(entry.cell), height: 210 }); });
      }, 150);
    });
  }

  function poll() {
    var status = document.getElementById('live-status');
    fetch('data.json', { cache: 'no-store' }).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return response.text();
    }).then(function (text) {
      if (text !== state.lastText) {
        state.lastText = text;
        var fresh = JSON.parse(text);
        data.runs = fresh.runs;
        data.plan = fresh.plan;
        drawAll();
      }
      var step = 0;
      data.runs.forEach(function (run) { run.metrics.forEach(function (m) { if (typeof m.step === 'number' && m.step > step) step = m.step; }); });
      status.textContent = 'live · step ' + step + ' · checked ' + new Date().toLocaleTimeString();
      setTimeout(poll, data.live.pollMs);
    }).catch(function () {
      status.textContent = 'the run has ended (dashboard stopped); showing its last data';
      status.className = 'ended';
    });
  }

  setup();
  drawAll();
  if (data.live) poll();
})();
`;
