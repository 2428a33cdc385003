import Foundation
import Testing

@testable import LinuxSys

@Suite struct ChildProcessTests {
    @Test func capturesOutputSeparatelyWithTheExitCode() async throws {
        let result = try await ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "echo out; echo err >&2; exit 3"],
            timeout: .seconds(10)
        )
        #expect(result.status == 3)
        #expect(result.stdoutText == "out\n")
        #expect(result.stderrText == "err\n")
        #expect(!result.timedOut)
    }

    @Test func feedsStdinAndPassesTheEnvironment() async throws {
        // 280 KB, more than a pipe holds.
        let input = Array(repeating: Array("line of input\n".utf8), count: 20000).flatMap { $0 }
        let cat = try await ChildProcess.run("/bin/cat", stdin: input, timeout: .seconds(10))
        #expect(cat.stdout == input)
        let env = try await ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "echo $SKIFF_TEST"],
            environment: ["SKIFF_TEST=value"],
            timeout: .seconds(10)
        )
        #expect(env.stdoutText == "value\n")
        // A child that exits without reading its stdin: no SIGPIPE for us.
        let early = try await ChildProcess.run("/bin/true", stdin: input, timeout: .seconds(10))
        #expect(early.status == 0)
    }

    @Test func aTimeoutKillsTheWholeProcessGroupQuickly() async throws {
        // A unique duration marks this test's sleeps for pgrep.
        let marker = "30.\(Int.random(in: 1000...9999))"
        let started = ContinuousClock.now
        let result = try await ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "sleep \(marker) & exec sleep \(marker)"],
            timeout: .milliseconds(300)
        )
        #expect(result.timedOut)
        #expect(result.status == 128 + SIGKILL)
        #expect(ContinuousClock.now - started < .seconds(5))
        try await Task.sleep(for: .milliseconds(100))
        let survivors = try await ChildProcess.run(
            "/usr/bin/pgrep",
            arguments: ["-f", "sleep \(marker)"],
            timeout: .seconds(5)
        )
        #expect(survivors.stdout.isEmpty, "the child and its background job are gone")
    }

    @Test func outputIsCappedAndSignalsAreReported() async throws {
        let big = try await ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "head -c 100000 /dev/zero"],
            timeout: .seconds(10),
            outputLimit: 1000
        )
        #expect(big.stdout.count == 1000)
        #expect(big.truncated)
        // The child gets default signal handling even if the parent blocks SIGTERM.
        let terminated = try await ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "kill -TERM $$; sleep 5"],
            timeout: .seconds(10)
        )
        #expect(terminated.status == 128 + SIGTERM)
    }

    @Test func aMissingProgramIsAnError() async {
        let error = await #expect(throws: SystemCallError.self) {
            try await ChildProcess.run("/nonexistent/program", timeout: .seconds(1))
        }
        #expect(error?.errno == ENOENT)
    }

    /// Open pipe descriptors of this process. Other tests run beside this one and hold pipes of
    /// their own while it runs (CI once saw 30 more), so the check is for growth per run: the
    /// runs are many enough that even one pipe leaked per run (200) stands far above that noise.
    static func openPipes() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter { fd in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"))?.hasPrefix("pipe:")
                == true
        }.count
    }

    @Test func manyRunsLeakNoDescriptors() async throws {
        let before = try Self.openPipes()
        for _ in 0..<200 { _ = try await ChildProcess.run("/bin/true", stdin: [1, 2, 3], timeout: .seconds(5)) }
        let after = try Self.openPipes()
        #expect(after - before < 100, "\(after - before) pipes more after 200 runs")
    }

    @Test func aChildOnATerminalHasItAsControllingTTYAndSeesResizes() async throws {
        let child = try RunningChild.start(
            "/bin/sh",
            arguments: ["-c", "tty; read a; stty size; exit 2"],
            environment: ["PATH=/usr/bin:/bin"],
            options: .init(terminal: true)
        )
        #expect(child.hasTerminal && child.stderrFD == -1)
        child.resizeTerminal(columns: 77, rows: 22)
        // Input written before the child reads arrives as typed: the terminal starts raw.
        _ = write(child.stdinFD, "go\n", 3)
        var output = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(10)
        while !output.contains("22 77"), Date() < deadline {
            let count = read(child.stdoutFD, &buffer, buffer.count)
            if count > 0 { output += String(decoding: buffer[0..<count], as: UTF8.self) } else { usleep(10_000) }
        }
        #expect(output.contains("/dev/pts/") && output.contains("22 77"), "\(output.debugDescription)")
        #expect(!output.contains("go"), "no echo from a raw terminal: \(output.debugDescription)")
        #expect(await child.exitStatus() == 2)
        close(child.stdinFD)
        close(child.stdoutFD)
    }
}
