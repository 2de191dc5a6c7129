// The load generator of bench:features (`--load-generator go`, the default): one process that
// drives every system, HTTP or raw Redis, with the same two loops, over JSON lines on
// stdin/stdout (the commands and reports of bench/features-load.ts, whose Node generator it
// replaces by default):
//   - open loop: request i is due at start + i/rate whatever happened before (no coordinated
//     omission) and its latency counts from that due time; the send lag is reported apart;
//   - closed loop: `concurrency` requests always in flight, for the highest rate sustained.
//
// Why Go and not Node: a Node client reads every reply on one thread, so on a 2-core machine
// shared with the server and redis-server a reply waits for that thread, and pacing it
// precisely meant blocking or spinning it (bench/features-load.ts, kept as
// `--load-generator node`). Here the pacer parks on the runtime's timers until 1.5 ms before
// each due time and sleeps the rest in nanosleep (a hrtimer): no spinning; each request runs in
// a goroutine of its own, and replies are read by whichever thread is free, as in vegeta, the
// established open-loop tool this generator was checked against (README, feature store).
// HTTP is net/http over kept-alive connections (one request per connection at a time, new
// connections as an open loop needs them); Redis is one pipelined connection speaking RESP
// (one MGET per request), as ioredis does.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type target struct {
	Kind    string     `json:"kind"`
	URL     string     `json:"url"`
	Path    string     `json:"path"`
	Bodies  []string   `json:"bodies"`
	Port    int        `json:"port"`
	KeySets [][]string `json:"keySets"`
}

type command struct {
	Op          string  `json:"op"`
	ID          string  `json:"id"`
	Target      *target `json:"target"`
	Rate        float64 `json:"rate"`
	Seconds     float64 `json:"seconds"`
	Concurrency int     `json:"concurrency"`
}

type gcPauses struct {
	Count   int     `json:"count"`
	TotalMs float64 `json:"totalMs"`
	MaxMs   float64 `json:"maxMs"`
}

type report struct {
	Requests              int      `json:"requests"`
	Errors                int      `json:"errors"`
	AchievedRps           int      `json:"achievedRps"`
	P50Ms                 float64  `json:"p50Ms"`
	P90Ms                 float64  `json:"p90Ms"`
	P99Ms                 float64  `json:"p99Ms"`
	P999Ms                float64  `json:"p999Ms"`
	MaxMs                 float64  `json:"maxMs"`
	SendLagP99Ms          *float64 `json:"sendLagP99Ms,omitempty"`
	SendLagMaxMs          *float64 `json:"sendLagMaxMs,omitempty"`
	FromSendP99Ms         *float64 `json:"fromSendP99Ms,omitempty"`
	ClientGc              gcPauses `json:"clientGc"`
	ClientRunQueueWaitMs  float64  `json:"clientRunQueueWaitMs"`
	ClientCPUUsPerRequest int      `json:"clientCpuUsPerRequest"`
	ResponseBytes         int      `json:"responseBytes"`
	FirstError            string   `json:"firstError,omitempty"`
}

// send performs request i and returns the bytes of its answer.
type client interface {
	send(i int) (int, error)
	close()
}

type httpClient struct {
	http   *http.Client
	url    string
	bodies [][]byte
}

func newHTTPClient(t *target) *httpClient {
	transport := &http.Transport{
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	bodies := make([][]byte, len(t.Bodies))
	for i, b := range t.Bodies {
		bodies[i] = []byte(b)
	}
	return &httpClient{http: &http.Client{Transport: transport}, url: t.URL + t.Path, bodies: bodies}
}

var discard = sync.Pool{New: func() any { b := make([]byte, 64*1024); return &b }}

func (c *httpClient) send(i int) (int, error) {
	request, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(c.bodies[i%len(c.bodies)]))
	if err != nil {
		return 0, err
	}
	request.Header.Set("content-type", "application/json")
	response, err := c.http.Do(request)
	if err != nil {
		return 0, err
	}
	defer response.Body.Close()
	buf := discard.Get().(*[]byte)
	defer discard.Put(buf)
	read := 0
	for {
		n, err := response.Body.Read(*buf)
		read += n
		if err == io.EOF {
			break
		}
		if err != nil {
			return read, err
		}
	}
	if response.StatusCode != http.StatusOK {
		return read, fmt.Errorf("status %d", response.StatusCode)
	}
	return read, nil
}

func (c *httpClient) close() { c.http.CloseIdleConnections() }

// redisClient: one connection, commands written in order and replies matched in order
// (pipelining), as ioredis's auto-pipelining does.
type redisClient struct {
	conn     net.Conn
	writeMu  sync.Mutex
	writer   *bufio.Writer
	pending  chan chan redisReply
	commands [][]byte
}

type redisReply struct {
	bytes int
	err   error
}

func newRedisClient(t *target) (*redisClient, error) {
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(t.Port))
	if err != nil {
		return nil, err
	}
	commands := make([][]byte, len(t.KeySets))
	for i, keys := range t.KeySets {
		var b bytes.Buffer
		fmt.Fprintf(&b, "*%d\r\n$4\r\nMGET\r\n", len(keys)+1)
		for _, key := range keys {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(key), key)
		}
		commands[i] = b.Bytes()
	}
	c := &redisClient{conn: conn, writer: bufio.NewWriterSize(conn, 64*1024), pending: make(chan chan redisReply, 1<<16), commands: commands}
	go c.readReplies(bufio.NewReaderSize(conn, 256*1024))
	return c, nil
}

func (c *redisClient) readReplies(reader *bufio.Reader) {
	for waiter := range c.pending {
		bytes, err := readMget(reader)
		waiter <- redisReply{bytes, err}
		if err != nil && errors.Is(err, io.EOF) {
			return
		}
	}
}

// readMget reads one MGET reply (an array of bulk strings) and returns the sum of the value lengths.
func readMget(reader *bufio.Reader) (int, error) {
	line, err := reader.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 3 || line[0] != '*' {
		return 0, fmt.Errorf("unexpected reply %q", strings.TrimSpace(string(line)))
	}
	count, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return 0, err
	}
	total := 0
	for k := 0; k < count; k++ {
		line, err := reader.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		size, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return 0, err
		}
		if size < 0 {
			return 0, errors.New("a key of the benchmark data is missing")
		}
		if _, err := reader.Discard(size + 2); err != nil {
			return 0, err
		}
		total += size
	}
	return total, nil
}

func (c *redisClient) send(i int) (int, error) {
	waiter := make(chan redisReply, 1)
	c.writeMu.Lock()
	// Queued before the write, so the reader never sees a reply without its waiter.
	c.pending <- waiter
	_, err := c.writer.Write(c.commands[i%len(c.commands)])
	if err == nil {
		err = c.writer.Flush()
	}
	c.writeMu.Unlock()
	if err != nil {
		return 0, err
	}
	reply := <-waiter
	return reply.bytes, reply.err
}

func (c *redisClient) close() { c.conn.Close() }

// Process-wide marks a run's own figures are taken from.
type marks struct {
	numGC      uint32
	runQueueNs int64
	cpuUs      int64
}

func cpuUs() int64 {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return usage.Utime.Sec*1e6 + usage.Utime.Usec + usage.Stime.Sec*1e6 + usage.Stime.Usec
}

// runQueueNs: how long all this process's threads have waited for a core (Linux schedstat, field 2).
func runQueueNs() int64 {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var total int64
	for _, task := range tasks {
		text, err := os.ReadFile("/proc/self/task/" + task.Name() + "/schedstat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(text))
		if len(fields) > 1 {
			wait, _ := strconv.ParseInt(fields[1], 10, 64)
			total += wait
		}
	}
	return total
}

func mark() marks {
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return marks{numGC: stats.NumGC, runQueueNs: runQueueNs(), cpuUs: cpuUs()}
}

// gcSince: the collector's stop-the-world pauses since the mark (the last 256 at most).
func gcSince(since marks) gcPauses {
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	count := int(stats.NumGC - since.numGC)
	result := gcPauses{Count: count}
	for k := 0; k < count && k < len(stats.PauseNs); k++ {
		pause := float64(stats.PauseNs[(int(stats.NumGC)-1-k+len(stats.PauseNs))%len(stats.PauseNs)]) / 1e6
		result.TotalMs += pause
		if pause > result.MaxMs {
			result.MaxMs = pause
		}
	}
	result.TotalMs = round3(result.TotalMs)
	result.MaxMs = round3(result.MaxMs)
	return result
}

func round3(value float64) float64 { return float64(int64(value*1000+0.5)) / 1000 }

// quantile: nearest rank of sorted latencies, ms rounded to µs.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted)) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return round3(sorted[rank-1])
}

func summarize(latencies []float64, lags []float64, errs int, firstErr error, elapsed time.Duration, bytes int, since marks) report {
	sorted := append([]float64(nil), latencies...)
	perRequest := len(latencies)
	if perRequest == 0 {
		perRequest = 1
	}
	sort.Float64s(sorted)
	r := report{
		Requests:              len(latencies),
		Errors:                errs,
		AchievedRps:           int(float64(len(latencies)-errs)/elapsed.Seconds() + 0.5),
		P50Ms:                 quantile(sorted, 0.5),
		P90Ms:                 quantile(sorted, 0.9),
		P99Ms:                 quantile(sorted, 0.99),
		P999Ms:                quantile(sorted, 0.999),
		MaxMs:                 quantile(sorted, 1),
		ClientGc:              gcSince(since),
		ClientRunQueueWaitMs:  round3(float64(runQueueNs()-since.runQueueNs) / 1e6),
		ClientCPUUsPerRequest: int(float64(cpuUs()-since.cpuUs)/float64(perRequest) + 0.5),
		ResponseBytes:         bytes,
	}
	if firstErr != nil {
		r.FirstError = firstErr.Error()
	}
	if lags != nil {
		sortedLags := append([]float64(nil), lags...)
		sort.Float64s(sortedLags)
		fromSend := make([]float64, len(latencies))
		for i := range latencies {
			fromSend[i] = latencies[i] - lags[i]
		}
		sort.Float64s(fromSend)
		lagP99, lagMax, sendP99 := quantile(sortedLags, 0.99), quantile(sortedLags, 1), quantile(fromSend, 0.99)
		r.SendLagP99Ms, r.SendLagMaxMs, r.FromSendP99Ms = &lagP99, &lagMax, &sendP99
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// sleepUntil sleeps this OS thread until `due` in nanosleep: a hrtimer, woken within the
// kernel's timer slack (50 µs), without the runtime's millisecond-grained timers or a spin.
func sleepUntil(due time.Time) {
	for left := time.Until(due); left > 0; left = time.Until(due) {
		ts := syscall.NsecToTimespec(left.Nanoseconds())
		syscall.Nanosleep(&ts, nil)
	}
}

// coarseMargin: the runtime's timers fire on a millisecond grain; the pacer wakes this early.
const coarseMargin = 1500 * time.Microsecond

func openLoop(c client, rate, seconds float64) report {
	total := int(rate*seconds + 0.5)
	if total < 1 {
		total = 1
	}
	period := time.Duration(float64(time.Second) / rate)
	latencies := make([]float64, total)
	lags := make([]float64, total)
	var errs atomic.Int64
	var firstErr atomic.Value
	var lastBytes atomic.Int64
	var done sync.WaitGroup
	since := mark()
	start := time.Now().Add(10 * time.Millisecond)
	done.Add(total)
	paced := make(chan struct{})
	request := func(i int, due time.Time) {
		lags[i] = ms(time.Since(due))
		bytes, err := c.send(i)
		latencies[i] = ms(time.Since(due))
		if err != nil {
			if errs.Add(1) == 1 {
				firstErr.Store(err)
			}
		} else {
			lastBytes.Store(int64(bytes))
		}
		done.Done()
	}
	go func() {
		for i := 0; i < total; i++ {
			due := start.Add(time.Duration(i) * period)
			// Parked on the runtime's timers until shortly before the due time (its processor
			// runs the requests in flight meanwhile), then the last stretch in nanosleep.
			if coarse := time.Until(due) - coarseMargin; coarse > 0 {
				time.Sleep(coarse)
			}
			sleepUntil(due)
			go request(i, due)
			// The request starts on this processor now, not when another one steals it.
			runtime.Gosched()
		}
		close(paced)
	}()
	<-paced
	done.Wait()
	first, _ := firstErr.Load().(error)
	return summarize(latencies, lags, int(errs.Load()), first, time.Since(start), int(lastBytes.Load()), since)
}

func closedLoop(c client, concurrency int, seconds float64) report {
	var mu sync.Mutex
	latencies := make([]float64, 0, 1<<16)
	errs := 0
	var firstErr error
	var lastBytes atomic.Int64
	var issued atomic.Int64
	since := mark()
	start := time.Now()
	end := start.Add(time.Duration(seconds * float64(time.Second)))
	var done sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		done.Add(1)
		go func() {
			defer done.Done()
			for time.Now().Before(end) {
				sent := time.Now()
				bytes, err := c.send(int(issued.Add(1) - 1))
				latency := ms(time.Since(sent))
				mu.Lock()
				latencies = append(latencies, latency)
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
				}
				mu.Unlock()
				if err == nil {
					lastBytes.Store(int64(bytes))
				}
			}
		}()
	}
	done.Wait()
	return summarize(latencies, nil, errs, firstErr, time.Since(start), int(lastBytes.Load()), since)
}

func main() {
	clients := map[string]client{}
	input := bufio.NewScanner(os.Stdin)
	input.Buffer(make([]byte, 1<<20), 1<<30)
	output := json.NewEncoder(os.Stdout)
	for input.Scan() {
		var message struct {
			Seq     int     `json:"seq"`
			Command command `json:"command"`
		}
		if err := json.Unmarshal(input.Bytes(), &message); err != nil {
			fmt.Fprintln(os.Stderr, "features-load-go: bad command:", err)
			os.Exit(2)
		}
		result, err := handle(clients, message.Command)
		answer := map[string]any{"seq": message.Seq}
		if err != nil {
			answer["error"] = err.Error()
		} else {
			answer["result"] = result
		}
		output.Encode(answer)
	}
}

func handle(clients map[string]client, cmd command) (any, error) {
	switch cmd.Op {
	case "target":
		if cmd.Target == nil {
			return nil, errors.New("target: no target")
		}
		if cmd.Target.Kind == "http" {
			clients[cmd.ID] = newHTTPClient(cmd.Target)
		} else {
			c, err := newRedisClient(cmd.Target)
			if err != nil {
				return nil, err
			}
			clients[cmd.ID] = c
		}
		return map[string]any{}, nil
	case "open", "closed":
		c, ok := clients[cmd.ID]
		if !ok {
			return nil, fmt.Errorf("no target %s", cmd.ID)
		}
		if cmd.Op == "open" {
			return openLoop(c, cmd.Rate, cmd.Seconds), nil
		}
		return closedLoop(c, cmd.Concurrency, cmd.Seconds), nil
	case "drop":
		if c, ok := clients[cmd.ID]; ok {
			c.close()
			delete(clients, cmd.ID)
		}
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("unknown op %s", cmd.Op)
}
