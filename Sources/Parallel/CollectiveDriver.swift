/// "The root decides, everyone agrees" as a reusable loop. The root rank runs an algorithm (`drive`); each
/// time it needs collective work it calls `request(command)`, which broadcasts the command and runs
/// `serve(command)` on every rank of the communicator (the root included, so the root gets the reply).
/// The other ranks do nothing but serve until the root finishes; then the root's result is broadcast and
/// returned on every rank. Decisions are taken only on the root, so ranks cannot disagree.
///
/// It nests: an outer driver on the world communicator can run, inside its `serve`, inner drivers on
/// sub-communicators (rank groups), each with its own root.
///
/// If `drive` throws on the root, the error's description is broadcast and every other rank throws
/// `CollectiveFailure` with it: nobody is left waiting.
public struct CollectiveDriver<Command: Packable> {
    public let communicator: Communicator

    public init(communicator: Communicator) { self.communicator = communicator }

    private enum Tag: Int64 { case command = 1, done = 0, failed = -1 }

    public func run<Reply, Result: Packable>(serve: @escaping (Command) throws -> Reply,
                                              drive: (_ request: @escaping (Command) throws -> Reply) throws -> Result) throws -> Result {
        let comm = communicator
        if comm.isRoot {
            let result: Result
            do {
                result = try drive { command in
                    var tag = [Tag.command.rawValue]
                    try comm.broadcast(&tag)
                    _ = try comm.broadcast(command)
                    return try serve(command)
                }
            } catch {
                var tag = [Tag.failed.rawValue]
                try comm.broadcast(&tag)
                _ = try comm.broadcast("\(error)")
                throw error
            }
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
                _ = try serve(command)
            case .done:
                return try comm.broadcast(nil as Result?)
            case .failed:
                let message: String = try comm.broadcast(nil)
                throw CollectiveFailure(message: message)
            case nil:
                throw CollectiveFailure(message: "unknown driver tag \(tag[0])")
            }
        }
    }
}

/// The root of a collective driver failed; the message is its error.
public struct CollectiveFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A log that writes only on its communicator's root, with an optional prefix (e.g. the rank group), so
/// nested solves on sub-communicators neither duplicate nor interleave lines.
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
