/// "The root decides, everyone agrees" as a reusable loop. The root rank runs an algorithm (`drive`); each
/// time it needs collective work it calls `request(command)`, which broadcasts the command and runs
/// `serve(command)` on every rank of the communicator (the root included, so the root gets the reply).
/// The other ranks do nothing but serve until the root finishes; then the root's result is broadcast and
/// returned on every rank. Decisions are taken only on the root, so ranks cannot disagree.
///
/// It nests: an outer driver on the world communicator can run, inside its `serve`, inner drivers on
/// sub-communicators (rank groups), each with its own root.
///
/// Failures end the loop on every rank, with nobody left waiting:
/// - if `drive` throws on the root, the error's description is broadcast and every other rank throws
///   `CollectiveFailure` with it;
/// - after every `serve`, the ranks agree (one small all-reduce) on whether it failed anywhere; if so the
///   lowest failing rank's message reaches all of them and every rank throws `CollectiveFailure` (on the
///   root, out of `request`, so `drive` must let it propagate; a later `request` throws it again).
/// For that agreement to be reached, `serve` must not fail between two collectives on this driver's
/// communicator (collectives on sub-communicators, such as a nested driver, are fine).
public struct CollectiveDriver<Command: Packable> {
    public let communicator: Communicator

    public init(communicator: Communicator) { self.communicator = communicator }

    private enum Tag: Int64 { case command = 1, done = 0, failed = -1 }

    /// Run `serve` and agree over every rank on whether it failed anywhere (collective).
    private func agreedServe<Reply>(_ serve: (Command) throws -> Reply, _ command: Command) throws -> Reply {
        let comm = communicator
        var reply: Reply?
        var message = ""
        do { reply = try serve(command) } catch { message = "\(error)" }
        let size = Int64(comm.size)
        // One all-reduce agrees on two things: the lowest failing rank, and whether any rank received a
        // stop signal (`StopSignal`), so a polite stop costs no extra collective.
        let agreed = try comm.allReduce([-(reply == nil ? Int64(comm.rank) : size),
                                         StopSignal.received != 0 || StopSignal.agreed ? 1 : 0])
        StopSignal.noteAgreement(agreed[1] == 1)
        let lowestFailing = -agreed[0]
        if lowestFailing < size {
            try comm.broadcast(&message, root: Int(lowestFailing))
            throw CollectiveFailure(message: message, agreed: true)
        }
        return reply!
    }

    public func run<Reply, Result: Packable>(serve: @escaping (Command) throws -> Reply,
                                              drive: (_ request: @escaping (Command) throws -> Reply) throws -> Result) throws -> Result {
        let comm = communicator
        if comm.isRoot {
            let failure = AgreedFailureBox()
            let result: Result
            do {
                result = try drive { command in
                    if let error = failure.error { throw error }       // the other ranks have left the loop
                    var tag = [Tag.command.rawValue]
                    try comm.broadcast(&tag)
                    _ = try comm.broadcast(command)
                    do {
                        return try agreedServe(serve, command)
                    } catch let error as CollectiveFailure where error.agreed {
                        failure.error = error
                        throw error
                    }
                }
            } catch {
                if let agreed = failure.error { throw agreed }           // every rank already knows
                var tag = [Tag.failed.rawValue]
                try comm.broadcast(&tag)
                _ = try comm.broadcast("\(error)")
                throw error
            }
            if let agreed = failure.error { throw agreed }               // `drive` swallowed it: still a failure
            var tag = [Tag.done.rawValue]
            try comm.broadcast(&tag)
            return try comm.broadcast(result)
        }
        while true {
            var tag: [Int64] = [0]
            try comm.broadcast(&tag)
            switch Tag(rawValue: tag[0]) {
            case .command:
                let command: Command = try comm.broadcast(nil)
                _ = try agreedServe(serve, command)
            case .done:
                return try comm.broadcast(nil as Result?)
            case .failed:
                let message: String = try comm.broadcast(nil)
                throw CollectiveFailure(message: message, agreed: true)
            case nil:
                throw CollectiveFailure(message: "unknown driver tag \(tag[0])", agreed: false)
            }
        }
    }
}

/// The agreed failure the root saw in a `request` (checked again after `drive` returns).
private final class AgreedFailureBox { var error: CollectiveFailure? }

/// The root of a collective driver failed; the message is its error.
public struct CollectiveFailure: Error, CustomStringConvertible {
    public let message: String
    /// Every rank of the driver's communicator knows of the failure (no rank is left waiting).
    public let agreed: Bool
    public init(message: String, agreed: Bool) { self.message = message; self.agreed = agreed }
    public var description: String { message }
}

/// A log that writes only on its communicator's root, with an optional prefix (e.g. the rank group): a
/// solve on a communicator prints each line once. Nested solves on several groups print one line per group
/// root; give each group a prefix so that their interleaved lines can be told apart.
public struct Logger: Sendable {
    private let emit: @Sendable (String) -> Void

    /// Lines from `communicator`'s root go to `sink`; other ranks stay silent.
    public init(communicator: Communicator, prefix: String = "", sink: @escaping @Sendable (String) -> Void) {
        let isRoot = communicator.isRoot
        emit = { line in if isRoot { sink(prefix + line) } }
    }

    /// A log that discards everything.
    public static let silent = Logger(emit: { _ in })

    private init(emit: @escaping @Sendable (String) -> Void) { self.emit = emit }

    public func callAsFunction(_ line: String) { emit(line) }
}
