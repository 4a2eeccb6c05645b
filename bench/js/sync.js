#!/usr/bin/env node
'use strict'
// sync.js — time JavaScript ssb-db@20 doing initial sync (building all its
// flumedb views from scratch) over an existing SSB flume/log.offset.
//
//   node sync.js --log PATH/TO/log.offset [--samples-ms 250] [--out result.json]
//                [--poll-ms 5] [--timeout-s 1800] [--tmp DIR] [--no-verify] [--keep]
//
// Prints one JSON object on stdout (and writes it to --out). Progress and the
// verification counts go to stderr. See README.md for what is measured.

const fs = require('fs')
const os = require('os')
const path = require('path')

const USAGE = 'usage: node sync.js --log PATH/TO/log.offset [--samples-ms 250] [--out result.json] [--poll-ms 5] [--timeout-s 1800] [--tmp DIR] [--no-verify] [--keep]'

function die (msg, code) {
  process.stderr.write('sync.js: ' + msg + '\n')
  process.exit(code === undefined ? 1 : code)
}

function parseArgs (argv) {
  const a = { log: null, samplesMs: 250, pollMs: 5, timeoutS: 1800, out: null, tmp: os.tmpdir(), verify: true, keep: false }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) die(k + ' needs a value\n' + USAGE, 2)
      return argv[++i]
    }
    if (k === '--log') a.log = val()
    else if (k === '--samples-ms') a.samplesMs = Number(val())
    else if (k === '--out') a.out = val()
    else if (k === '--poll-ms') a.pollMs = Number(val())
    else if (k === '--timeout-s') a.timeoutS = Number(val())
    else if (k === '--tmp') a.tmp = val()
    else if (k === '--no-verify') a.verify = false
    else if (k === '--keep') a.keep = true
    else if (k === '-h' || k === '--help') { process.stdout.write(USAGE + '\n'); process.exit(0) }
    else die('unknown argument ' + JSON.stringify(k) + '\n' + USAGE, 2)
  }
  if (!a.log) die('--log is required\n' + USAGE, 2)
  if (!Number.isFinite(a.samplesMs) || a.samplesMs < 1) die('--samples-ms must be a positive number of milliseconds', 2)
  if (!Number.isFinite(a.pollMs) || a.pollMs < 1) die('--poll-ms must be a positive number of milliseconds', 2)
  if (!Number.isFinite(a.timeoutS) || a.timeoutS <= 0) die('--timeout-s must be a positive number of seconds', 2)
  return a
}

// Walk the frames of a flumelog-offset file (32-bit offset codec, as ssb-db@20
// uses): [u32 BE len][payload][u32 BE len][u32 BE offset of the next frame].
// Reads in 1 MiB chunks so the scan itself adds nothing to the peak RSS.
// Returns the frame count, the offset of the last frame (what flumedb calls the
// log's `since`; -1 for an empty log) and how many frames have an all-zero
// payload (deleted entries), and fails loudly on anything that is not a frame.
function scanLog (file) {
  const fd = fs.openSync(file, 'r')
  const size = fs.fstatSync(fd).size
  const CH = 1 << 20
  let buf = Buffer.alloc(CH)
  let bufStart = 0 // file offset of buf[0]
  let bufLen = 0
  // make file bytes [pos, pos+n) available in buf; returns index into buf
  function need (pos, n) {
    if (pos >= bufStart && pos + n <= bufStart + bufLen) return pos - bufStart
    if (n > buf.length) buf = Buffer.alloc(Math.max(n, CH))
    bufStart = pos
    bufLen = fs.readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos)
    if (bufLen < n) throw new Error(`${file}: truncated frame at offset ${pos} (need ${n} bytes, file has ${size})`)
    return 0
  }
  let pos = 0
  let frames = 0
  let last = -1
  let zeroed = 0
  try {
    while (pos < size) {
      let i = need(pos, 4)
      const len = buf.readUInt32BE(i)
      const end = pos + 4 + len + 8
      if (end > size) throw new Error(`${file}: frame at offset ${pos} claims ${len} bytes, past the end of the file (${size} bytes)`)
      if (len === 0) throw new Error(`${file}: zero-length frame at offset ${pos}`)
      // check the payload's first byte for deleted (zero-filled) entries
      i = need(pos + 4, 1)
      if (buf[i] === 0) zeroed++
      i = need(pos + 4 + len, 8)
      const len2 = buf.readUInt32BE(i)
      const next = buf.readUInt32BE(i + 4)
      if (len2 !== len) throw new Error(`${file}: frame at offset ${pos}: trailing length ${len2} != leading length ${len}`)
      if (next !== end % 0x100000000) throw new Error(`${file}: frame at offset ${pos}: next-offset field ${next} != ${end}`)
      last = pos
      frames++
      pos = end
    }
  } finally {
    fs.closeSync(fd)
  }
  return { size, frames, last, zeroed }
}

function vmHWM () {
  // peak resident set size of this process so far, from the kernel
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch (e) { return null }
}

// Busy CPU time of the whole machine so far, in ms (from /proc/stat: every
// state but idle and iowait), or null where there is no /proc.
function machineBusyMs () {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
    if (line[0] !== 'cpu') return null
    const v = line.slice(1).map(Number)
    // user nice system idle iowait irq softirq steal
    const busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] || 0)
    return busy * 10 // USER_HZ is 100 on Linux: one tick is 10 ms
  } catch (e) { return null }
}

// CPU time (user+system, ms) of this process's main thread (JavaScript) and of
// all its other threads (libuv pool: LevelDB writes and compactions, GC
// helpers), from /proc/self/task; null where there is no /proc.
function threadCpuMs () {
  try {
    let main = 0
    let other = 0
    for (const tid of fs.readdirSync('/proc/self/task')) {
      const st = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
      const ms = (Number(f[11]) + Number(f[12])) * 10 // utime + stime, in 10 ms ticks
      if (Number(tid) === process.pid) main += ms
      else other += ms
    }
    return { main, other }
  } catch (e) { return null }
}

function main () {
  const args = parseArgs(process.argv.slice(2))
  const logPath = path.resolve(args.log)
  if (!fs.existsSync(logPath)) die(`${logPath}: no such file`)
  if (!fs.statSync(logPath).isFile()) die(`${logPath}: not a regular file`)

  // Load every module before the clock starts.
  const pull = require('pull-stream')
  const ssbKeys = require('ssb-keys')
  const caps = require('ssb-caps')
  const SecretStack = require('secret-stack')
  const ssbDb = require('ssb-db')
  const ssbDbVersion = require('ssb-db/package.json').version

  process.stderr.write(`sync.js: scanning ${logPath}\n`)
  let scan
  try { scan = scanLog(logPath) } catch (e) { die(e.message) }
  process.stderr.write(`sync.js: ${scan.frames} frames, ${scan.size} bytes, last frame at offset ${scan.last}` +
    (scan.zeroed ? `, ${scan.zeroed} zero-filled (deleted)` : '') + '\n')

  // A fresh ssb folder: DIR/secret and DIR/flume/log.offset, no views.
  fs.mkdirSync(args.tmp, { recursive: true })
  const dir = fs.mkdtempSync(path.join(path.resolve(args.tmp), 'sluice-bench-js-'))
  let cleaned = false
  const cleanup = () => {
    if (cleaned) return
    cleaned = true
    if (args.keep) { process.stderr.write(`sync.js: kept ${dir}\n`); return }
    try { fs.rmSync(dir, { recursive: true, force: true }) } catch (e) {
      process.stderr.write(`sync.js: could not remove ${dir}: ${e.message}\n`)
    }
  }
  process.on('exit', cleanup)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { cleanup(); process.exit(128 + os.constants.signals[sig]) })
  }

  fs.mkdirSync(path.join(dir, 'flume'))
  const copy = path.join(dir, 'flume', 'log.offset')
  fs.copyFileSync(logPath, copy)
  // Write the copy out now, so the kernel's writeback of hundreds of MB of
  // dirty pages does not compete with the timed run for the CPU and the disk.
  for (const p of [copy, path.join(dir, 'flume')]) {
    const fd = fs.openSync(p, 'r')
    fs.fsyncSync(fd)
    fs.closeSync(fd)
  }
  const keys = ssbKeys.loadOrCreateSync(path.join(dir, 'secret'))
  process.stderr.write(`sync.js: copied the log to ${dir}/flume/log.offset; opening ssb-db@${ssbDbVersion}\n`)

  const samples = []
  let peakSampled = 0
  let sbot = null
  let timer = null
  let poll = null
  let done = false
  let wallMs = null
  let hwmAtCatchUp = null
  let cpuAtCatchUp = null
  let busyAtCatchUp = null
  let threadsAtCatchUp = null
  let final = null

  // Where each view and the log are. status().sync is ssb-db's own report:
  // { since: <log since>, plugins: { <view>: <view since> }, sync: <all equal> }
  function syncState () {
    const s = sbot.status().sync
    const names = Object.keys(s.plugins)
    let min = Infinity
    let slowest = null
    for (const n of names) {
      const v = s.plugins[n]
      const at = Number.isInteger(v) ? v : -1
      if (at < min) { min = at; slowest = n }
    }
    return { logSince: s.since, plugins: s.plugins, names, min: names.length ? min : -1, slowest, sync: s.sync }
  }
  // The real "all views caught up" condition. ssb-db's own `sync` flag is also
  // true while nothing has loaded yet (undefined === undefined), so demand that
  // the log has loaded at the offset of the file's last frame and that every
  // view's since is exactly that number.
  function caughtUp (st) {
    if (st.logSince !== scan.last) return false
    if (st.names.length === 0) return false
    for (const n of st.names) if (st.plugins[n] !== scan.last) return false
    return st.sync === true
  }

  function sample (t) {
    const rss = process.memoryUsage.rss()
    if (rss > peakSampled) peakSampled = rss
    const st = syncState()
    samples.push({ t_ms: Math.round(t), bytes: Math.max(0, st.min), rss, slowest: st.slowest })
    return st
  }

  const loadStart = os.loadavg()
  const cpu0 = process.cpuUsage()
  const busy0 = machineBusyMs()
  const threads0 = threadCpuMs()
  const t0 = performance.now()
  const createSbot = SecretStack({ caps }).use(ssbDb)
  sbot = createSbot({
    path: dir,
    keys,
    caps,
    // no network: this is the database alone
    connections: { incoming: {}, outgoing: {} }
  })
  sample(0)

  let lastLog = 0
  const viewDoneMs = {}
  timer = setInterval(() => {
    const t = performance.now() - t0
    const st = sample(t)
    if (t - lastLog >= 5000) {
      lastLog = t
      const pct = scan.last > 0 ? (100 * Math.max(0, st.min) / scan.last).toFixed(1) : '100'
      process.stderr.write(`sync.js: ${(t / 1000).toFixed(1)} s  slowest view at ${pct}%  rss ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MiB\n`)
    }
  }, args.samplesMs)

  // Never hang: views that do not catch up in time are a failure, with where they got to.
  const deadline = setTimeout(() => {
    if (done) return
    const st = syncState()
    die(`views not caught up after ${args.timeoutS} s: log since ${st.logSince} (last frame at ${scan.last}), views ${JSON.stringify(st.plugins)}`)
  }, args.timeoutS * 1000)
  deadline.unref()

  // Check the condition often: a 5 ms poll costs nothing next to indexing and
  // bounds the error of wall_ms by about --poll-ms (plus any event-loop lag).
  poll = setInterval(() => {
    if (done) return
    const st = syncState()
    // when each view (and the log) got to the end, for the record
    if (st.logSince === scan.last && viewDoneMs.log === undefined) viewDoneMs.log = Math.round(performance.now() - t0)
    for (const n of st.names) {
      if (st.plugins[n] === scan.last && viewDoneMs[n] === undefined) viewDoneMs[n] = Math.round(performance.now() - t0)
    }
    if (!caughtUp(st)) return
    done = true
    wallMs = performance.now() - t0
    hwmAtCatchUp = vmHWM()
    cpuAtCatchUp = process.cpuUsage(cpu0)
    busyAtCatchUp = machineBusyMs()
    threadsAtCatchUp = threadCpuMs()
    sample(wallMs)
    clearInterval(timer)
    clearInterval(poll)
    final = st
    afterCatchUp()
  }, args.pollMs)

  function afterCatchUp () {
    process.stderr.write(`sync.js: all ${final.names.length} views caught up (${final.names.join(', ')}) in ${(wallMs / 1000).toFixed(2)} s\n`)
    const verify = {}
    const steps = []
    if (args.verify) {
      // 1. the raw log as flumelog-offset reads it
      steps.push(cb => pull(sbot.createRawLogStream({ seqs: true, values: true }), pull.reduce((n) => n + 1, 0, (err, n) => {
        if (err) return cb(err)
        verify.log_stream_count = n
        cb()
      })))
      // 2. through the `time` view (createLogStream reads it, then the log)
      steps.push(cb => pull(sbot.createLogStream({ keys: true, values: true }), pull.reduce((n) => n + 1, 0, (err, n) => {
        if (err) return cb(err)
        verify.time_view_count = n
        cb()
      })))
      // 3. the `last` reduce view: latest sequence per author, summed
      steps.push(cb => pull(sbot.latest(), pull.reduce((acc, x) => {
        acc.authors++
        acc.sum += x.sequence
        return acc
      }, { authors: 0, sum: 0 }, (err, acc) => {
        if (err) return cb(err)
        verify.last_view_authors = acc.authors
        verify.last_view_sequence_sum = acc.sum
        cb()
      })))
      // 4. the `clock` view: the whole history of the author with the most
      //    messages; 5. the `keys` view: that author's latest message by its key
      steps.push(cb => pull(sbot.latest(), pull.collect((err, all) => {
        if (err) return cb(err)
        if (!all.length) return cb()
        const top = all.reduce((a, b) => (b.sequence > a.sequence ? b : a))
        verify.top_author_expected = top.sequence
        pull(sbot.createHistoryStream({ id: top.id, keys: false }), pull.collect((err, msgs) => {
          if (err) return cb(err)
          verify.clock_view_top_author_messages = msgs.length
          sbot.getLatest(top.id, (err, m) => {
            if (err) return cb(err)
            verify.keys_view_top_author_latest_sequence = m && m.value ? m.value.sequence : null
            cb()
          })
        }))
      })))
    }
    const run = (i) => {
      if (i < steps.length) return steps[i]((err) => err ? finish(err) : run(i + 1))
      finish(null)
    }
    run(0)

    function finish (err) {
      if (err) process.stderr.write(`sync.js: verification failed: ${err.stack || err}\n`)
      const t1 = performance.now()
      sbot.close((closeErr) => {
        const closeMs = performance.now() - t1
        if (closeErr) process.stderr.write(`sync.js: close: ${closeErr.message || closeErr}\n`)
        report(err, closeMs, verify)
      })
    }
  }

  function report (verifyErr, closeMs, verify) {
    const peak = Math.max(peakSampled, hwmAtCatchUp || 0)
    const logMB = scan.size / 1e6
    const result = {
      system: 'ssb-db@' + ssbDbVersion,
      log_bytes: scan.size,
      messages: scan.frames - scan.zeroed,
      wall_ms: Math.round(wallMs),
      peak_rss_bytes: peak,
      messages_per_s: Math.round((scan.frames - scan.zeroed) / (wallMs / 1000)),
      mb_per_s: Number((logMB / (wallMs / 1000)).toFixed(2)),
      peak_rss_sampled_bytes: peakSampled,
      vmhwm_at_catch_up_bytes: hwmAtCatchUp,
      vmhwm_at_exit_bytes: vmHWM(),
      log_since: final.logSince,
      views: final.plugins,
      // ms from open at which the log's since and each view's reached the end
      view_done_ms: viewDoneMs,
      close_ms: Math.round(closeMs),
      // CPU time of the whole process (all threads, incl. LevelDB's) from open to catch-up
      cpu_user_ms: Math.round(cpuAtCatchUp.user / 1000),
      cpu_system_ms: Math.round(cpuAtCatchUp.system / 1000),
      // the same split by thread: the JavaScript thread, and all the others
      cpu_main_thread_ms: threads0 && threadsAtCatchUp ? threadsAtCatchUp.main - threads0.main : null,
      cpu_other_threads_ms: threads0 && threadsAtCatchUp ? threadsAtCatchUp.other - threads0.other : null,
      // 1-minute load average of the machine at open and at the end: other work
      // on a 2-core machine skews the result, so look at this before trusting it
      loadavg_1m_start: Number(loadStart[0].toFixed(2)),
      loadavg_1m_end: Number(os.loadavg()[0].toFixed(2)),
      cpus: os.cpus().length,
      // average number of cores other processes kept busy during the timed run:
      // near 0 on an idle machine; 1 means a whole core was taken from this run
      other_busy_cores: (busy0 === null || busyAtCatchUp === null) ? null
        : Number(Math.max(0, (busyAtCatchUp - busy0 - (cpuAtCatchUp.user + cpuAtCatchUp.system) / 1000) / wallMs).toFixed(2)),
      verify: args.verify ? verify : null,
      node: process.version,
      samples_ms: args.samplesMs,
      poll_ms: args.pollMs,
      samples
    }
    const expected = scan.frames - scan.zeroed
    let ok = true
    if (args.verify) {
      const checks = [
        ['log stream count', verify.log_stream_count, scan.frames],
        ['time view count', verify.time_view_count, expected],
        ['last view sequence sum', verify.last_view_sequence_sum, expected]
      ]
      if (expected > 0) {
        checks.push(
          ['clock view history of the top author', verify.clock_view_top_author_messages, verify.top_author_expected],
          ['keys view get of the top author\'s latest', verify.keys_view_top_author_latest_sequence, verify.top_author_expected])
      }
      for (const [what, got, want] of checks) {
        const good = got !== undefined && got === want
        ok = ok && good
        process.stderr.write(`sync.js: verify: ${what}: ${got} (expected ${want}) ${good ? 'ok' : 'MISMATCH'}\n`)
      }
      if (verifyErr) ok = false
      result.verified = ok
    }
    if (result.other_busy_cores !== null && result.other_busy_cores > 0.25) {
      process.stderr.write(`sync.js: WARNING: other processes kept ${result.other_busy_cores} of ${result.cpus} cores busy during the run; wall_ms is inflated, rerun on an idle machine\n`)
    }
    const json = JSON.stringify(result)
    if (args.out) fs.writeFileSync(args.out, json + '\n')
    process.stdout.write(json + '\n')
    process.stderr.write(`sync.js: ${result.system}: ${result.messages} messages, ${(scan.size / 1048576).toFixed(1)} MiB in ${(wallMs / 1000).toFixed(2)} s ` +
      `(${result.messages_per_s} msg/s, ${result.mb_per_s} MB/s), peak RSS ${(peak / 1048576).toFixed(0)} MiB\n`)
    cleanup()
    process.exit(ok ? 0 : 1)
  }
}

main()
