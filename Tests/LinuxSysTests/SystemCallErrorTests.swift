import Glibc
import LinuxSys
import SkiffCommon
import Testing

/// A failing system call is skiffd's own failure unless its caller says what a missing file means.
struct SystemCallErrorTests {
    @Test func errnoIsInternalUnlessTheCallerSaysWhatMissingMeans() {
        let missing = SystemCallError("mkdir", "/x", errno: ENOENT)
        #expect(missing.skiffError("cannot create the directories of container c").code == .internalError)
        #expect(missing.skiffError("cannot read /import.tar", ifMissing: .notFound).code == .notFound)
        #expect(SystemCallError("open", "/x", errno: EEXIST).skiffError("m").code == .internalError)
        #expect(SystemCallError("open", "/x", errno: EPERM).skiffError("m").code == .internalError)
        #expect(SystemCallError("write", "/x", errno: ENOSPC).skiffError("m").code == .resourceExhausted)
        #expect(SystemCallError("open", "/x", errno: EMFILE).skiffError("m").code == .resourceExhausted)
        let error = missing.skiffError("cannot create the directories of container c")
        #expect(error.message == "cannot create the directories of container c")
        #expect(error.description.contains("mkdir"), "the cause stays for the logs: \(error.description)")
    }
}
