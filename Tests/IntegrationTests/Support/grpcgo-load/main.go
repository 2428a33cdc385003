// grpcgo-load drives skiffd with a real grpc-go client, the way the kubelet does: one
// ClientConn on the unix socket, insecure, default window sizes (so grpc-go's BDP estimator
// sends a PING with nearly every response it receives), several goroutines calling at once.
//
// Each worker loops for -duration seconds: RunPodSandbox (unique name and uid, host network so
// no CNI is needed, PID namespace per container), PodSandboxStatus, ListPodSandbox, 5× Version,
// StopPodSandbox, RemovePodSandbox. At the end it prints one JSON line with the calls per method,
// the failures (code and message), the GOAWAY frames the server sent, the ClientConn's
// departures from READY and the pods created, and exits 0: the Swift test
// (GRPCGoClientTests) judges.
//
// GOAWAY is counted on the wire: the dialer wraps the connection and a frame scanner reads the
// HTTP/2 frame headers in both directions (GOAWAY frames from skiffd, with their last-stream-id
// and error code; PINGs sent by grpc-go). grpc-go 1.33 logs a GOAWAY only for ENHANCE_YOUR_CALM,
// so the lines its logger writes with "goaway" in them are counted separately.
//
// No generated code: the messages come from a FileDescriptorSet of cri_subset.proto (made by
// protoc --descriptor_set_out --include_imports) through protodesc and dynamicpb, and are sent
// with ClientConn.Invoke and a codec over google.golang.org/protobuf. Built in GOPATH mode
// against Debian's golang-google-grpc-dev and golang-google-protobuf-dev.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const service = "runtime.v1.RuntimeService"

// codec marshals dynamicpb messages with google.golang.org/protobuf (Debian's grpc-go may sit on
// github.com/golang/protobuf 1.3, which cannot marshal them). Its name stays "proto", so the
// content-type is the usual application/grpc+proto.
type codec struct{}

func (codec) Marshal(v interface{}) ([]byte, error)   { return proto.Marshal(v.(proto.Message)) }
func (codec) Unmarshal(b []byte, v interface{}) error { return proto.Unmarshal(b, v.(proto.Message)) }
func (codec) Name() string                            { return "proto" }

// frameScanner follows the HTTP/2 frames of one direction of a connection and reports each
// frame's type, flags and first payload bytes (at most 8).
type frameScanner struct {
	skip    int // preface bytes still to skip (the client's 24-byte preface)
	header  [9]byte
	filled  int
	left    int
	prefix  []byte
	onFrame func(kind, flags byte, prefix []byte)
}

func (s *frameScanner) feed(b []byte) {
	for len(b) > 0 {
		switch {
		case s.skip > 0:
			n := min(s.skip, len(b))
			s.skip -= n
			b = b[n:]
		case s.filled < len(s.header):
			n := copy(s.header[s.filled:], b)
			s.filled += n
			b = b[n:]
			if s.filled == len(s.header) {
				s.left = int(s.header[0])<<16 | int(s.header[1])<<8 | int(s.header[2])
				s.prefix = s.prefix[:0]
				if s.left == 0 {
					s.done()
				}
			}
		default:
			n := min(s.left, len(b))
			if k := min(8-len(s.prefix), n); k > 0 {
				s.prefix = append(s.prefix, b[:k]...)
			}
			s.left -= n
			b = b[n:]
			if s.left == 0 {
				s.done()
			}
		}
	}
}

func (s *frameScanner) done() {
	s.onFrame(s.header[3], s.header[4], s.prefix)
	s.filled = 0
}

const (
	framePing   = 0x6
	frameGoAway = 0x7
	flagAck     = 0x1
)

type goAwayFrame struct {
	Connection   int64  `json:"connection"`
	LastStreamID uint32 `json:"lastStreamId"`
	ErrorCode    uint32 `json:"errorCode"`
}

type stats struct {
	mu             sync.Mutex
	calls          map[string]int64
	failures       int64
	failureCodes   map[string]int64
	failureSamples []string
	podsCreated    int64
	goAwayFrames   []goAwayFrame

	connections    int64
	goaways        int64
	pingsSent      int64
	stateChanges   int64
	goawayLogLines int64
}

func (s *stats) call(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	if err == nil {
		return
	}
	s.failures++
	st, _ := status.FromError(err)
	s.failureCodes[st.Code().String()]++
	if len(s.failureSamples) < 20 {
		s.failureSamples = append(s.failureSamples, fmt.Sprintf("%s: %s: %s", method, st.Code(), st.Message()))
	}
}

func (s *stats) failure(method, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures++
	s.failureCodes["Unexpected"]++
	if len(s.failureSamples) < 20 {
		s.failureSamples = append(s.failureSamples, method+": "+message)
	}
}

// scannedConn counts the frames of one connection as grpc-go reads and writes them.
type scannedConn struct {
	net.Conn
	in, out *frameScanner
}

func (c *scannedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.feed(b[:n])
	return n, err
}

func (c *scannedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.feed(b[:n])
	return n, err
}

func (s *stats) dial(ctx context.Context, target string) (net.Conn, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(target, "unix://"), "unix:")
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	id := atomic.AddInt64(&s.connections, 1)
	in := &frameScanner{onFrame: func(kind, flags byte, prefix []byte) {
		if kind == frameGoAway && len(prefix) == 8 {
			atomic.AddInt64(&s.goaways, 1)
			s.mu.Lock()
			if len(s.goAwayFrames) < 20 {
				s.goAwayFrames = append(s.goAwayFrames, goAwayFrame{id, binary.BigEndian.Uint32(prefix[:4]) & 0x7fffffff, binary.BigEndian.Uint32(prefix[4:])})
			}
			s.mu.Unlock()
		}
	}}
	out := &frameScanner{skip: 24, onFrame: func(kind, flags byte, _ []byte) {
		if kind == framePing && flags&flagAck == 0 {
			atomic.AddInt64(&s.pingsSent, 1)
		}
	}}
	return &scannedConn{Conn: conn, in: in, out: out}, nil
}

// logWriter passes grpc-go's log to stderr and counts the lines mentioning a GOAWAY.
type logWriter struct{ lines *int64 }

func (w logWriter) Write(b []byte) (int, error) {
	atomic.AddInt64(w.lines, int64(strings.Count(strings.ToLower(string(b)), "goaway")))
	return os.Stderr.Write(b)
}

// client calls the RuntimeService methods of the descriptor set with dynamic messages.
type client struct {
	conn    *grpc.ClientConn
	methods protoreflect.MethodDescriptors
	stats   *stats
}

func (c *client) newRequest(method string) *dynamicpb.Message {
	return dynamicpb.NewMessage(c.methods.ByName(protoreflect.Name(method)).Input())
}

// invoke calls a method and counts it; the response is nil when the call failed.
func (c *client) invoke(method string, request *dynamicpb.Message) *dynamicpb.Message {
	response := dynamicpb.NewMessage(c.methods.ByName(protoreflect.Name(method)).Output())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := c.conn.Invoke(ctx, "/"+service+"/"+method, request, response)
	c.stats.call(method, err)
	if err != nil {
		return nil
	}
	return response
}

// set assigns a value to a dotted field path, making the messages on the way.
func set(m protoreflect.Message, path string, value interface{}) {
	names := strings.Split(path, ".")
	for _, name := range names[:len(names)-1] {
		m = m.Mutable(m.Descriptor().Fields().ByName(protoreflect.Name(name))).Message()
	}
	field := m.Descriptor().Fields().ByName(protoreflect.Name(names[len(names)-1]))
	switch v := value.(type) {
	case string:
		if field.Kind() == protoreflect.EnumKind {
			m.Set(field, protoreflect.ValueOfEnum(field.Enum().Values().ByName(protoreflect.Name(v)).Number()))
		} else {
			m.Set(field, protoreflect.ValueOfString(v))
		}
	}
}

// get reads a dotted field path (a default value where a message on the way is unset).
func get(m protoreflect.Message, path string) protoreflect.Value {
	names := strings.Split(path, ".")
	for _, name := range names[:len(names)-1] {
		m = m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name))).Message()
	}
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(names[len(names)-1])))
}

func (c *client) iteration(worker, round int) {
	name := fmt.Sprintf("grpcgo-%d-%d", worker, round)
	run := c.newRequest("RunPodSandbox")
	set(run, "config.metadata.name", name)
	set(run, "config.metadata.uid", fmt.Sprintf("uid-%d-%s", os.Getpid(), name))
	set(run, "config.metadata.namespace", "grpcgo-load")
	set(run, "config.hostname", name)
	set(run, "config.linux.security_context.namespace_options.network", "NODE")
	set(run, "config.linux.security_context.namespace_options.pid", "CONTAINER")
	response := c.invoke("RunPodSandbox", run)
	if response == nil {
		return
	}
	atomic.AddInt64(&c.stats.podsCreated, 1)
	id := get(response, "pod_sandbox_id").String()

	statusRequest := c.newRequest("PodSandboxStatus")
	set(statusRequest, "pod_sandbox_id", id)
	if response := c.invoke("PodSandboxStatus", statusRequest); response != nil {
		if got := get(response, "status.id").String(); got != id {
			c.stats.failure("PodSandboxStatus", fmt.Sprintf("status of %s names %q", id, got))
		} else if state := get(response, "status.state").Enum(); state != 0 {
			c.stats.failure("PodSandboxStatus", fmt.Sprintf("pod %s is in state %d, not SANDBOX_READY", id, state))
		}
	}
	if response := c.invoke("ListPodSandbox", c.newRequest("ListPodSandbox")); response != nil {
		items := get(response, "items").List()
		found := false
		for i := 0; i < items.Len(); i++ {
			found = found || get(items.Get(i).Message(), "id").String() == id
		}
		if !found {
			c.stats.failure("ListPodSandbox", "pod "+id+" is not listed")
		}
	}
	for i := 0; i < 5; i++ {
		version := c.newRequest("Version")
		set(version, "version", "v1")
		if response := c.invoke("Version", version); response != nil && get(response, "runtime_name").String() == "" {
			c.stats.failure("Version", "no runtime_name")
		}
	}
	stop := c.newRequest("StopPodSandbox")
	set(stop, "pod_sandbox_id", id)
	c.invoke("StopPodSandbox", stop)
	remove := c.newRequest("RemovePodSandbox")
	set(remove, "pod_sandbox_id", id)
	c.invoke("RemovePodSandbox", remove)
}

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "grpcgo-load: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	socket := flag.String("socket", "", "skiffd's CRI socket")
	descriptors := flag.String("descriptors", "", "FileDescriptorSet of cri_subset.proto (protoc --descriptor_set_out --include_imports)")
	workers := flag.Int("workers", 8, "goroutines calling at once")
	duration := flag.Int("duration", 40, "seconds to start new iterations for")
	flag.Parse()
	if *socket == "" || *descriptors == "" {
		fatal("-socket and -descriptors are required")
	}

	data, err := os.ReadFile(*descriptors)
	if err != nil {
		fatal("%v", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		fatal("descriptor set: %v", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		fatal("descriptor set: %v", err)
	}
	descriptor, err := files.FindDescriptorByName(service)
	if err != nil {
		fatal("descriptor set: %v", err)
	}

	s := &stats{calls: map[string]int64{}, failureCodes: map[string]int64{}}
	// Info level, verbosity 2 (grpc-go logs a GOAWAY with ENHANCE_YOUR_CALM at V(2)).
	log := logWriter{&s.goawayLogLines}
	grpclog.SetLoggerV2(grpclog.NewLoggerV2WithVerbosity(log, log, log, 2))

	// Like k8s.io/cri-client: one connection, insecure, a context dialer for the unix socket,
	// grpc-go's default windows (BDP estimation on).
	conn, err := grpc.Dial("unix://"+*socket, grpc.WithInsecure(), grpc.WithContextDialer(s.dial),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(codec{})))
	if err != nil {
		fatal("dial: %v", err)
	}
	c := &client{conn: conn, methods: descriptor.(protoreflect.ServiceDescriptor).Methods(), stats: s}

	// Every time the channel leaves READY (a GOAWAY or a closed connection) is one state change.
	watch, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		state := conn.GetState()
		for conn.WaitForStateChange(watch, state) {
			if state == connectivity.Ready {
				atomic.AddInt64(&s.stateChanges, 1)
			}
			state = conn.GetState()
		}
	}()

	start := time.Now()
	deadline := start.Add(time.Duration(*duration) * time.Second)
	var group sync.WaitGroup
	for w := 0; w < *workers; w++ {
		group.Add(1)
		go func(worker int) {
			defer group.Done()
			for round := 0; time.Now().Before(deadline); round++ {
				c.iteration(worker, round)
			}
		}(w)
	}
	group.Wait()
	elapsed := time.Since(start).Seconds()
	stopWatch()
	<-watched
	conn.Close()

	s.mu.Lock()
	defer s.mu.Unlock()
	total := int64(0)
	for _, n := range s.calls {
		total += n
	}
	failureSamples := s.failureSamples
	if failureSamples == nil {
		failureSamples = []string{}
	}
	goAwayFrames := s.goAwayFrames
	if goAwayFrames == nil {
		goAwayFrames = []goAwayFrame{}
	}
	report := map[string]interface{}{
		"calls":          s.calls,
		"totalCalls":     total,
		"seconds":        elapsed,
		"rate":           float64(total) / elapsed,
		"failures":       s.failures,
		"failureCodes":   s.failureCodes,
		"failureSamples": failureSamples,
		"goaways":        atomic.LoadInt64(&s.goaways),
		"goawayFrames":   goAwayFrames,
		"goawayLogLines": atomic.LoadInt64(&s.goawayLogLines),
		"stateChanges":   atomic.LoadInt64(&s.stateChanges),
		"connections":    atomic.LoadInt64(&s.connections),
		"pingsSent":      atomic.LoadInt64(&s.pingsSent),
		"podsCreated":    atomic.LoadInt64(&s.podsCreated),
	}
	line, _ := json.Marshal(report)
	io.WriteString(os.Stdout, string(line)+"\n")
}
