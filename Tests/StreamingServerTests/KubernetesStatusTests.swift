import Foundation
import NIOCore
import Testing

@testable import StreamingServer

/// The metav1.Status bytes client-go's remotecommand reads, and the resize messages it sends.
@Suite struct KubernetesStatusTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func statusesHaveTheShapeClientGoDecodes() {
        #expect(Self.text(KubernetesStatus.success()) == #"{"metadata":{},"status":"Success"}"#)
        #expect(KubernetesStatus.exited(0, command: ["true"]) == KubernetesStatus.success())
        #expect(
            Self.text(KubernetesStatus.exited(3, command: ["sh", "-c", "exit 3"])) == """
                {"details":{"causes":[{"message":"3","reason":"ExitCode"}]},"message":"command terminated with non-zero exit code: \
                error executing command [\\"sh\\", \\"-c\\", \\"exit 3\\"], exit code 3","metadata":{},"reason":"NonZeroExitCode","status":"Failure"}
                """
        )
        #expect(
            Self.text(KubernetesStatus.failure("no such container"))
                == #"{"message":"no such container","metadata":{},"reason":"InternalError","status":"Failure"}"#
        )
    }

    @Test func olderProtocolsGetTheMessageAsText() {
        #expect(KubernetesStatus.plainText(KubernetesStatus.success()).isEmpty)
        #expect(Self.text(KubernetesStatus.plainText(KubernetesStatus.failure("gone"))) == "gone")
        #expect(Self.text(KubernetesStatus.plainText(Array("garbage".utf8))) == "command failed")
    }

    @Test func resizeMessagesNeedTwoPositiveSizes() {
        let size = TerminalSize(json: ByteBuffer(string: #"{"Width":120,"Height":40}"#))
        #expect(size?.width == 120 && size?.height == 40)
        #expect(TerminalSize(json: ByteBuffer(string: #"{"Width":100000,"Height":1}"#))?.width == UInt16.max, "clamped")
        for bad in [
            #"{"Width":0,"Height":40}"#, #"{"Width":80}"#, #"{"Width":"80","Height":"24"}"#, "[80,24]", "",
            #"{"Width":-1,"Height":5}"#,
        ] {
            #expect(TerminalSize(json: ByteBuffer(string: bad)) == nil, "\(bad)")
        }
    }
}
