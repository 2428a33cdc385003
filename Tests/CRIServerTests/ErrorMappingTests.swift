import GRPCCore
import SkiffCommon
import Testing

@testable import CRIServer

@Suite struct ErrorMappingTests {
    @Test(arguments: [
        (SkiffError.Code.invalidArgument, RPCError.Code.invalidArgument),
        (.notFound, .notFound),
        (.alreadyExists, .alreadyExists),
        (.failedPrecondition, .failedPrecondition),
        (.deadlineExceeded, .deadlineExceeded),
        (.unimplemented, .unimplemented),
        (.unavailable, .unavailable),
        (.resourceExhausted, .resourceExhausted),
        (.permissionDenied, .permissionDenied),
        (.cancelled, .cancelled),
        (.aborted, .aborted),
        (.internalError, .internalError),
        (SkiffError.Code("somethingNew"), .internalError),
    ])
    func everyDomainCodeMapsToOneStatus(domain: SkiffError.Code, status: RPCError.Code) {
        let error = SkiffError(domain, "what went wrong")
        #expect(error.rpcErrorCode == status)
        #expect(RPCError(error).code == status)
    }

    @Test func theMessageCarriesTheCause() {
        let error = SkiffError(
            .unavailable,
            "registry localhost:5000 did not answer",
            cause: DescribedError(description: "connection refused")
        )
        let status = RPCError(error)
        #expect(status.message == "registry localhost:5000 did not answer: connection refused")
        #expect(status.cause != nil)
    }

    @Test func unimplementedNamesTheRPC() {
        let error = SkiffError.notImplemented("RunPodSandbox", "pod sandboxes")
        #expect(error.rpcErrorCode == .unimplemented)
        #expect(error.message.hasPrefix("RunPodSandbox is not implemented yet"))
    }
}
