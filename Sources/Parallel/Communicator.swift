import CMPI
import Foundation

/// An MPI failure turned into a Swift error at the boundary (return code + the call that failed).
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public var description: String { "MPI call \(call) failed with code \(code)" }
}

@inline(__always)
func check(_ code: Int32, _ call: @autoclosure () -> String) throws {
    if code != MPI_SUCCESS { throw MPIError(call: call(), code: code) }
}

/// Process-wide MPI state: initialised once (also as a singleton without a launcher), finalised at exit.
public enum MPIEnvironment {
    private static let initialised: Bool = {
        var flag: Int32 = 0
        MPI_Initialized(&flag)
        if flag == 0 {
            let requested = Int32(MPI_THREAD_FUNNELED)
            var provided: Int32 = 0
            let code = MPI_Init_thread(nil, nil, requested, &provided)
            if let problem = initProblem(code: code, provided: provided, requested: requested) {
                // One line from the first rank (every rank meets the same library), then every rank exits
                // with 1, CONTRACT.md's "anything else": an MPI library that cannot start, or lacks the
                // thread support hat needs, is neither bad input (2: nothing the user passed is wrong), nor
                // non-convergence (3), nor an I/O or checkpoint failure (4); a sysexits code such as 69
                // would be one the contract does not list.
                if launcherRank == 0 { fputs("error: \(problem)\n", stderr) }
                // A library that started but with too little thread support is shut down cleanly; one that
                // failed to start is not touched again. (Open MPI aborts inside a failed call, also with
                // exit code 1, before it returns; the check covers libraries that do return.)
                if code == MPI_SUCCESS { MPI_Finalize() }
                exit(1)
            }
            atexit { MPIEnvironment.finalize() }
        }
        return true
    }()

    /// What is wrong with an `MPI_Init_thread` that returned `code` and `provided` for `requested`, or nil
    /// when MPI started with at least the requested thread support (the levels are ordered: single <
    /// funneled < serialized < multiple).
    public static func initProblem(code: Int32, provided: Int32, requested: Int32) -> String? {
        if code != MPI_SUCCESS { return "MPI_Init_thread failed with code \(code)" }
        if provided < requested {
            return "MPI_Init_thread provided thread support \(threadLevelName(provided)), hat needs "
                + threadLevelName(requested)
        }
        return nil
    }

    static func threadLevelName(_ level: Int32) -> String {
        switch level {
        case Int32(MPI_THREAD_SINGLE): return "MPI_THREAD_SINGLE"
        case Int32(MPI_THREAD_FUNNELED): return "MPI_THREAD_FUNNELED"
        case Int32(MPI_THREAD_SERIALIZED): return "MPI_THREAD_SERIALIZED"
        case Int32(MPI_THREAD_MULTIPLE): return "MPI_THREAD_MULTIPLE"
        default: return "level \(level)"
        }
    }

    /// Initialise MPI (idempotent) and return the world communicator.
    public static func world() -> Communicator {
        _ = initialised
        return Communicator(handle: MPI_COMM_WORLD, owned: false)
    }

    /// Finalise MPI if it is running (idempotent; registered with `atexit`).
    public static func finalize() {
        var initialised: Int32 = 0, finalised: Int32 = 0
        MPI_Initialized(&initialised)
        MPI_Finalized(&finalised)
        if initialised != 0 && finalised == 0 { MPI_Finalize() }
    }

    /// The rank of this process as announced by the launcher (mpirun, srun), without initialising MPI.
    /// Used to print configuration errors once, before any MPI work starts.
    public static var launcherRank: Int {
        let env = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
            if let value = env[key], let rank = Int(value) { return rank }
        }
        return 0
    }
}

/// A thin typed wrapper around an MPI communicator. Collectives are methods; buffers are Swift arrays.
public final class Communicator {
    public let handle: MPI_Comm
    private let owned: Bool
    public let rank: Int
    public let size: Int

    init(handle: MPI_Comm, owned: Bool) {
        self.handle = handle
        self.owned = owned
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(handle, &r)
        MPI_Comm_size(handle, &s)
        rank = Int(r)
        size = Int(s)
    }

    deinit {
        var finalised: Int32 = 0
        MPI_Finalized(&finalised)
        if owned && finalised == 0 {
            var h: MPI_Comm? = handle
            MPI_Comm_free(&h)
        }
    }

    public var isRoot: Bool { rank == 0 }

    public func barrier() throws { try check(MPI_Barrier(handle), "MPI_Barrier") }

    /// Split into sub-communicators by `color`, ordered by `key` (MPI_Comm_split).
    public func split(color: Int, key: Int) throws -> Communicator {
        var newComm: MPI_Comm? = nil
        try check(MPI_Comm_split(handle, Int32(color), Int32(key), &newComm), "MPI_Comm_split")
        guard let comm = newComm else { throw MPIError(call: "MPI_Comm_split (null)", code: -1) }
        return Communicator(handle: comm, owned: true)
    }

    /// A communicator of the contiguous ranks `ranks` of this one (MPI_Comm_create: collective over every
    /// rank of this communicator, all passing the same range); nil on the ranks outside it.
    public func subgroup(_ ranks: Range<Int>) throws -> Communicator? {
        precondition(!ranks.isEmpty && ranks.lowerBound >= 0 && ranks.upperBound <= size)
        var parent: MPI_Group? = nil, child: MPI_Group? = nil
        try check(MPI_Comm_group(handle, &parent), "MPI_Comm_group")
        defer { MPI_Group_free(&parent) }
        var range: [(Int32, Int32, Int32)] = [(Int32(ranks.lowerBound), Int32(ranks.upperBound - 1), 1)]
        try check(MPI_Group_range_incl(parent, 1, &range, &child), "MPI_Group_range_incl")
        defer { MPI_Group_free(&child) }
        var newComm: MPI_Comm? = nil
        try check(MPI_Comm_create(handle, child, &newComm), "MPI_Comm_create")
        guard ranks.contains(rank), let comm = newComm else { return nil }
        return Communicator(handle: comm, owned: true)
    }

    /// In place: every rank's block `blocks[rank]` of `buffer` (element ranges, contiguous and in rank order)
    /// is copied to the same place on every other rank (MPI_Allgatherv with MPI_IN_PLACE). No arithmetic.
    public func allGatherBlocks(_ buffer: UnsafeMutablePointer<Double>, blocks: [Range<Int>]) throws {
        precondition(blocks.count == size)
        let counts = blocks.map { Int32($0.count) }, displs = blocks.map { Int32($0.lowerBound) }
        try check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, buffer, counts, displs, MPI_DOUBLE, handle),
                  "MPI_Allgatherv(in place)")
    }

    /// Broadcast `values` from `root`; every rank must pass an array of the same length.
    public func broadcast(_ values: inout [Double], root: Int = 0) throws {
        let n = Int32(values.count)
        try values.withUnsafeMutableBufferPointer { buf in
            try check(MPI_Bcast(buf.baseAddress, n, MPI_DOUBLE, Int32(root), handle), "MPI_Bcast(double)")
        }
    }

    public func broadcast(_ values: inout [Int64], root: Int = 0) throws {
        let n = Int32(values.count)
        try values.withUnsafeMutableBufferPointer { buf in
            try check(MPI_Bcast(buf.baseAddress, n, MPI_LONG_LONG, Int32(root), handle), "MPI_Bcast(int64)")
        }
    }

    /// Broadcast a string from `root` (length first, then the UTF-8 bytes).
    public func broadcast(_ text: inout String, root: Int = 0) throws {
        var bytes = Array(text.utf8)
        var count = [Int64(bytes.count)]
        try broadcast(&count, root: root)
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count[0])) }
        try bytes.withUnsafeMutableBufferPointer { buf in
            try check(MPI_Bcast(buf.baseAddress, Int32(buf.count), MPI_BYTE, Int32(root), handle), "MPI_Bcast(bytes)")
        }
        text = String(decoding: bytes, as: UTF8.self)
    }

    /// Gather `local` from every rank into one rank-ordered array on every rank (MPI_Allgatherv).
    /// No arithmetic happens in MPI, so the result is bitwise independent of the rank count.
    public func allGatherV(_ local: [Double]) throws -> [Double] {
        var counts = [Int32](repeating: 0, count: size)
        var mine = Int32(local.count)
        try check(MPI_Allgather(&mine, 1, MPI_INT, &counts, 1, MPI_INT, handle), "MPI_Allgather(counts)")
        var displs = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) where r < size { displs[r] = displs[r - 1] + counts[r - 1] }
        let total = Int(counts.reduce(0, +))
        var out = [Double](repeating: 0, count: total)
        try local.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { dst in
                try check(MPI_Allgatherv(src.baseAddress, mine, MPI_DOUBLE, dst.baseAddress, counts, displs,
                                         MPI_DOUBLE, handle), "MPI_Allgatherv")
            }
        }
        return out
    }

    /// Element-wise maximum (or sum) of integers over all ranks, on every rank. Integer arithmetic is exact,
    /// so the result does not depend on the reduction order.
    public func allReduce(_ values: [Int64], sum: Bool = false) throws -> [Int64] {
        var input = values
        var out = [Int64](repeating: 0, count: values.count)
        try check(MPI_Allreduce(&input, &out, Int32(values.count), MPI_LONG_LONG, sum ? MPI_SUM : MPI_MAX, handle),
                  "MPI_Allreduce")
        return out
    }

    /// The ranks that share this rank's node (MPI_COMM_TYPE_SHARED), for per-node resource checks.
    public func nodeLocal() throws -> Communicator {
        var newComm: MPI_Comm? = nil
        try check(MPI_Comm_split_type(handle, Int32(MPI_COMM_TYPE_SHARED), Int32(rank), MPI_INFO_NULL, &newComm),
                  "MPI_Comm_split_type")
        guard let comm = newComm else { throw MPIError(call: "MPI_Comm_split_type (null)", code: -1) }
        return Communicator(handle: comm, owned: true)
    }

    /// Terminate every rank of the job with `code`. Never returns.
    public func abort(code: Int32) -> Never {
        MPI_Abort(handle, code)
        exit(code)
    }
}

/// Peak resident memory of this process in MiB (getrusage; Linux reports kilobytes).
public func peakResidentMemoryMiB() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}
