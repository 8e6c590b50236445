// etcd-load: the bench's load generator for etcd, on etcd's own Go client (clientv3), so that
// etcd is driven as a well-configured Go client would drive it and the client's CPU is not taken
// from etcd's members. It speaks the protocol of bench/compare/load-protocol.ts as JSON lines:
// messages on stdin, replies on stdout. A closed loop of `workers` requests in flight goes
// round-robin over the keys `<prefix><i>` (etcd's "groups"). Writes and linearizable reads go to
// the leader over one connection (found with the Status API at each run, so no follower forwards
// them); serializable reads go round-robin over every member, as they may answer anywhere. Only
// requests completing between "mark" and "stop" count; the process's own CPU (getrusage) over that
// window is reported. Built by build.sh beside it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type target struct {
	System    string   `json:"system"`
	Endpoints []string `json:"endpoints"`
}

type spec struct {
	Op        string `json:"op"`
	Lease     bool   `json:"lease"`
	Prefix    string `json:"prefix"`
	Groups    int    `json:"groups"`
	Offset    int    `json:"offset"`
	Workers   int    `json:"workers"`
	Payload   int    `json:"payload"`
	TimeoutMs int    `json:"timeoutMs"`
}

type message struct {
	Type   string  `json:"type"`
	Target *target `json:"target"`
	Spec   *spec   `json:"spec"`
}

type result struct {
	Ops         int64      `json:"ops"`
	Failed      int64      `json:"failed"`
	Buckets     [][2]int64 `json:"buckets"`
	CPUSeconds  float64    `json:"cpuSeconds"`
	WallSeconds float64    `json:"wallSeconds"`
	Errors      []string   `json:"errors"`
}

// --- replies on stdout ------------------------------------------------------------------------

var out = struct {
	sync.Mutex
	*json.Encoder
}{Encoder: json.NewEncoder(os.Stdout)}

func reply(v map[string]any) {
	out.Lock()
	defer out.Unlock()
	if err := out.Encode(v); err != nil {
		os.Exit(1)
	}
}

// --- latencies, in the buckets of bench/compare/stats.ts's Histogram (1% of microseconds) ------

var bucketBase = math.Log(1.01)

type histogram map[int64]int64

func (h histogram) record(d time.Duration) {
	us := math.Max(1, float64(d.Nanoseconds())/1000)
	h[int64(math.Floor(math.Log(us)/bucketBase))]++
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// --- requests -----------------------------------------------------------------------------------

// One client per member, each a single gRPC connection to that member alone.
var members []*clientv3.Client

func connect(t *target) error {
	for _, url := range t.Endpoints {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 10 * time.Second})
		if err != nil {
			return fmt.Errorf("connecting to %s: %w", url, err)
		}
		members = append(members, c)
	}
	return nil
}

// leader is the client of the member that says it leads now.
func leader() (*clientv3.Client, error) {
	for _, c := range members {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := c.Status(ctx, c.Endpoints()[0])
		cancel()
		if err == nil && s.Header.MemberId == s.Leader {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no etcd member says it leads")
}

type request func(ctx context.Context, group int) error

func requestFor(s *spec) (request, error) {
	lead, err := leader()
	if err != nil {
		return nil, err
	}
	keys := make([]string, s.Groups)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%d", s.Prefix, i)
	}
	value := strings.Repeat("v", s.Payload)
	switch {
	case s.Op == "write":
		return func(ctx context.Context, g int) error { _, err := lead.Put(ctx, keys[g], value); return err }, nil
	case !s.Lease:
		return func(ctx context.Context, g int) error { _, err := lead.Get(ctx, keys[g]); return err }, nil
	default:
		var next atomic.Uint64
		return func(ctx context.Context, g int) error {
			c := members[next.Add(1)%uint64(len(members))]
			_, err := c.Get(ctx, keys[g], clientv3.WithSerializable())
			return err
		}, nil
	}
}

func (s *spec) call(req request, g int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.TimeoutMs)*time.Millisecond)
	defer cancel()
	return req(ctx, g)
}

// A few errors, kept for the bench to print.
type errorSample struct {
	sync.Mutex
	list []string
}

func (e *errorSample) add(err error) {
	e.Lock()
	defer e.Unlock()
	if len(e.list) < 5 {
		e.list = append(e.list, err.Error())
	}
}

// --- a run: start, mark, stop -------------------------------------------------------------------

type run struct {
	stopping, recording atomic.Bool
	ops, failed         atomic.Int64
	errors              errorSample
	hists               []histogram
	workers             sync.WaitGroup
	cpu0                float64
	t0                  time.Time
	stopped             chan struct{}
}

var current *run

func start(s *spec) error {
	req, err := requestFor(s)
	if err != nil {
		return err
	}
	r := &run{hists: make([]histogram, s.Workers), cpu0: cpuSeconds(), t0: time.Now(), stopped: make(chan struct{})}
	next := atomic.Int64{}
	next.Store(int64(s.Offset))
	for w := range r.hists {
		h := histogram{}
		r.hists[w] = h
		r.workers.Add(1)
		go func() {
			defer r.workers.Done()
			for !r.stopping.Load() {
				g := int((next.Add(1) - 1) % int64(s.Groups))
				t := time.Now()
				err := s.call(req, g)
				if !r.recording.Load() {
					continue
				}
				if err == nil {
					h.record(time.Since(t))
					r.ops.Add(1)
				} else {
					r.failed.Add(1)
					r.errors.add(err)
				}
			}
		}()
	}
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				reply(map[string]any{"type": "progress", "ops": r.ops.Load(), "failed": r.failed.Load()})
			case <-r.stopped:
				return
			}
		}
	}()
	current = r
	return nil
}

func mark() {
	if current == nil {
		return
	}
	current.cpu0 = cpuSeconds()
	current.t0 = time.Now()
	current.recording.Store(true)
}

func stop() {
	r := current
	if r == nil {
		return
	}
	r.recording.Store(false)
	r.stopping.Store(true)
	close(r.stopped)
	res := result{Ops: r.ops.Load(), Failed: r.failed.Load(), CPUSeconds: cpuSeconds() - r.cpu0, WallSeconds: time.Since(r.t0).Seconds()}
	r.workers.Wait()
	merged := histogram{}
	for _, h := range r.hists {
		for b, n := range h {
			merged[b] += n
		}
	}
	res.Buckets = [][2]int64{}
	for b, n := range merged {
		res.Buckets = append(res.Buckets, [2]int64{b, n})
	}
	res.Errors = append([]string{}, r.errors.list...)
	current = nil
	reply(map[string]any{"type": "result", "result": res})
}

// fill writes every key once, min(workers, groups) at a time.
func fill(s *spec) error {
	req, err := requestFor(s)
	if err != nil {
		return err
	}
	var next, failed atomic.Int64
	var errors errorSample
	var done sync.WaitGroup
	for w := 0; w < s.Workers && w < s.Groups; w++ {
		done.Add(1)
		go func() {
			defer done.Done()
			for g := int(next.Add(1) - 1); g < s.Groups; g = int(next.Add(1) - 1) {
				if err := s.call(req, g); err != nil {
					failed.Add(1)
					errors.add(err)
				}
			}
		}()
	}
	done.Wait()
	reply(map[string]any{"type": "filled", "failed": failed.Load(), "errors": append([]string{}, errors.list...)})
	return nil
}

func handle(m *message) error {
	switch m.Type {
	case "connect":
		if m.Target == nil || m.Target.System != "etcd" {
			return fmt.Errorf("connect: this generator drives etcd only")
		}
		if err := connect(m.Target); err != nil {
			return err
		}
		reply(map[string]any{"type": "connected"})
	case "fill":
		return fill(m.Spec)
	case "start":
		return start(m.Spec)
	case "mark":
		mark()
	case "stop":
		stop()
	case "exit":
		for _, c := range members {
			c.Close()
		}
		os.Exit(0)
	}
	return nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var m message
		err := json.Unmarshal(in.Bytes(), &m)
		if err == nil {
			err = handle(&m)
		}
		if err != nil {
			reply(map[string]any{"type": "error", "message": err.Error()})
		}
	}
	// stdin closed: the bench has gone.
	os.Exit(0)
}
