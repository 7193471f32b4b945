// The buffers household solves need only while they run, shared by the solvers of one rank.

/// The buffers a household solve needs only while it runs: the second slot of the double-buffered
/// consumption and values, both slots of the carried c^−γ, and the lotteries of a′ (read by the distribution
/// right after the solve). Solvers of the countries one rank solves one after another share one scratch, so
/// memory per rank is 4 arrays of N_a·S·M per country (c, v, a′, π) plus one scratch, not 10 per country.
public final class HouseholdScratch {
    public let assetCount: Int, shockCount: Int, varietyCount: Int
    /// Spare consumption and value buffers: a solve whose solution lands here swaps it with its own.
    var cSpare: UnsafeMutablePointer<Double>
    var vSpare: UnsafeMutablePointer<Double>
    let cpow: [UnsafeMutablePointer<Double>]
    let lotteryLow: UnsafeMutablePointer<Int32>
    let lotteryWeight: UnsafeMutablePointer<Double>

    public init(assets: Int, shocks: Int, varieties: Int) {
        assetCount = assets; shockCount = shocks; varietyCount = varieties
        let n = assets * shocks * varieties
        cSpare = allocateZeroed(n); vSpare = allocateZeroed(n)
        cpow = [allocateZeroed(n), allocateZeroed(n)]
        lotteryWeight = allocateZeroed(n)
        lotteryLow = .allocate(capacity: n)
        lotteryLow.initialize(repeating: 0, count: n)
    }

    deinit {
        for p in [cSpare, vSpare, lotteryWeight] + cpow { p.deallocate() }
        lotteryLow.deallocate()
    }
}

func allocateZeroed(_ n: Int) -> UnsafeMutablePointer<Double> {
    let p = UnsafeMutablePointer<Double>.allocate(capacity: n)
    p.initialize(repeating: 0, count: n)
    return p
}
