// libFuzzer target: the streaming server's HTTP/1.1 front door — what a client's raw bytes go
// through before any stream exists: NIO's HTTP decoding, the WebSocket and SPDY/3.1 upgraders
// with StreamUpgrade's route / protocol negotiation / token claim, the handlers it puts into an
// upgraded pipeline, and NotFoundResponder for everything else. The pipeline is the one
// `StreamingHTTPServer.start()` builds for each connection (`configureConnection`, minus TLS),
// on a NIOAsyncTestingChannel (the server's token claim completes on another thread, which
// EmbeddedChannel does not allow).
//
// Input: raw bytes from a client. Each input gets fresh tokens for an exec, an attach and a
// port-forward; the placeholders XTOKEN, ATOKEN and PTOKEN in the input are replaced by them,
// so seeds can reach a real upgrade (and the frames after it). The backend refuses everything,
// so a started session ends at once. Besides not crashing: without a placeholder, no token is
// ever spent, so no request is ever upgraded (no route, header or token trick gets past the
// token check).
import Dispatch
import Logging
import NIOCore
import NIOEmbedded
import SkiffCommon

@testable import StreamingServer

struct RefusingBackend: StreamingBackend {
    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec {
        throw .notFound("fuzz: no container")
    }
    func startAttach(_ request: AttachStreamRequest) async throws(SkiffError) -> StartedAttach {
        throw .notFound("fuzz: no container")
    }
    func connectToPod(_ podSandboxID: String, port: UInt16) async throws(SkiffError) -> Int32 {
        throw .notFound("fuzz: no pod")
    }
}

let server: StreamingHTTPServer = {
    var logger = Logger(label: "fuzz")
    logger.logLevel = .critical
    return StreamingHTTPServer(address: "127.0.0.1", port: 0, starter: RefusingBackend(), logger: logger)
}()

func replace(_ placeholder: String, with token: String, in input: [UInt8]) -> ([UInt8], Bool) {
    let needle = Array(placeholder.utf8)
    var output: [UInt8] = []
    output.reserveCapacity(input.count)
    var index = 0
    var found = false
    while index < input.count {
        if input[index] == needle[0], index + needle.count <= input.count,
            input[index..<(index + needle.count)].elementsEqual(needle)
        {
            output += token.utf8
            index += needle.count
            found = true
        } else {
            output.append(input[index])
            index += 1
        }
    }
    return (output, found)
}

func serve(_ original: [UInt8]) async {
    let requests: [(String, StreamRequest)] = [
        (
            "XTOKEN",
            .exec(
                ExecStreamRequest(
                    containerID: "c",
                    command: ["sh"],
                    tty: false,
                    stdin: true,
                    stdout: true,
                    stderr: true
                )
            )
        ),
        ("ATOKEN", .attach(AttachStreamRequest(containerID: "c", tty: true, stdin: true, stdout: true, stderr: false))),
        ("PTOKEN", .portForward(PortForwardStreamRequest(podSandboxID: "p", ports: [80]))),
    ]
    var input = original
    var tokens: [String] = []
    var substituted = false
    for (placeholder, request) in requests {
        guard let token = await server.tokens.insert(request) else { preconditionFailure("the token cache is full") }
        tokens.append(token)
        let (replaced, found) = replace(placeholder, with: token, in: input)
        input = replaced
        substituted = substituted || found
    }

    let channel = NIOAsyncTestingChannel()
    do {
        try await channel.testingEventLoop.executeInContext { try server.configureConnection(channel, sslContext: nil) }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
    } catch {
        preconditionFailure("cannot set up the pipeline: \(error)")
    }
    // Two writes, so requests are also cut in the middle.
    let split = input.count * 2 / 3
    for part in [input[..<split], input[split...]] where !part.isEmpty {
        do {
            try await channel.writeInbound(ByteBuffer(bytes: part))
        } catch {
            break  // malformed HTTP or frames: the pipeline has answered and closes
        }
    }
    await channel.testingEventLoop.run()
    let unspent = await server.tokens.count
    precondition(
        substituted || unspent == tokens.count,
        "a request without a token spent one:\n\(String(decoding: original, as: UTF8.self))"
    )

    // The client hangs up; whatever is still running sees the connection gone.
    _ = try? await channel.close()
    await channel.testingEventLoop.run()
    _ = try? await channel.finish(acceptAlreadyClosed: true)
    for token in tokens { _ = await server.tokens.consume(token) }
}

final class Completion: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let completion = Completion()
    Task {
        await serve(input)
        completion.done.signal()
    }
    completion.done.wait()
    return 0
}
