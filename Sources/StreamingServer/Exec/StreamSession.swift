import NIOCore

/// What a protocol handler (WebSocket, SPDY) drives, whatever the session is (exec, attach).
protocol StreamSession: AnyObject {
    func start()
    func stdin(_ payload: ByteBuffer)
    func closeStdin()
    func resize(width: UInt16, height: UInt16)
    /// The client went away first.
    func clientGone()
    /// The client's connection can take more output (true) or has enough queued (false).
    func transportWritabilityChanged(_ writable: Bool)
}

extension ExecSession: StreamSession {
    func clientGone() { kill() }
}
