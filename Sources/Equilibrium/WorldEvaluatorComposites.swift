// One country's evaluation when its buyer prices depend on its own spending (a supply side with scale
// economies, e.g. Melitz firms inside each importer–exporter composite).
import Foundation
import HATModel

extension WorldEvaluator {
    /// Household solves a country's composite fixed point may use before it is reported as not settling.
    static let compositeMaxSolves = 30
    /// The loosest household tolerance of a country whose prices depend on its spending.
    static let compositeHouseholdTolerance = 1e-9

    /// Solve country i's households together with its buyer prices: y = log X_i· (its spending on every
    /// source) must reproduce itself through p_i·(y) and the households' choices at those prices.
    ///
    /// Each round solves the households at p(y), warm from the round before, and takes the Newton step of
    /// `CompositePrices` on F = log X_new − y, accelerated by Anderson mixing (the logit Jacobian is only
    /// approximate under CRRA and a home-quality shifter). The loop ends when max_j |X_new,j − e^(y_j)| / Σ X_new
    /// is at most the household tolerance, or within 100× of it once the rounds stop improving (the floor set
    /// by the household solves); and not before the second round, so that even a round started at the answer
    /// (a finite-difference neighbour) carries the response of the prices to the spending.
    ///
    /// The start is the spending of the last evaluation when warm (every rank keeps every country's, so a
    /// moved country starts the same), else the household-free start of `CompositePrices.startingSpending`:
    /// a cold evaluation, or one from an anchor, depends on the prices alone. The reported aggregates are
    /// those of the last round, at the prices reported.
    func solveCountryWithComposites(_ i: Int, prices: Prices, options: EvaluationOptions) -> CountryOutcome {
        let supply = world.supply, m = world.count
        // The buyer prices are set in every round below; until then the problem carries NaN placeholders.
        var problem = world.householdProblem(country: i, model: model, income: income, prices: prices)
        let c = supply.spendingElasticity / problem.sigma
        let warmSpending = options.warmStart && anchor[i] == nil ? lastSpending[i] : nil
        let spending = warmSpending ?? CompositePrices.startingSpending(
            world: world, importer: i, wages: prices.wages, sigma: problem.sigma, income: income, homeQuality: problem.homeQuality)
        var y = spending.map { log($0) }
        var round = options
        var mixer = CompositePrices.Anderson(memory: 4)
        var worst = Double.infinity, solves = 0, exactRounds = 0
        var collapsed: (source: Int, share: Double)?
        // Early rounds solve the households only as tightly as the composite error warrants (a thousandth of
        // the last error), so that most of the work is done once, at the full tolerance, near the answer.
        // The prices respond to the households' spending, so their noise is amplified into the market
        // residuals: the households of a country with composites are solved to at most 1e-9 whatever the
        // evaluation asks (1e-6 would leave the solver a residual whose noise is larger than its slope).
        let target = min(options.householdTolerance, Self.compositeHouseholdTolerance)
        round.householdTolerance = warmSpending != nil ? target : max(target, min(1e-6, target * 1e4))
        while solves < Self.compositeMaxSolves {
            round.distributionTolerance = max(options.distributionTolerance, round.householdTolerance)
            problem.prices = supply.buyerPrices(world: world, importer: i, wages: prices.wages, spending: y.map { exp($0) })
            var outcome = solveHouseholds(i, problem: problem, options: round, loadAnchor: solves == 0)
            solves += 1
            let exact = round.householdTolerance <= target
            if exact { exactRounds += 1 }
            round.warmStart = true
            if outcome.failed { return outcome }
            let x = outcome.aggregates.imports
            let f = (0..<m).map { log(x[$0]) - y[$0] }
            // The error that reaches the market residuals is in levels: the largest gap between the spending
            // the prices assumed and the spending found, relative to total spending (a tiny flow's noisy log
            // does not hold the loop up).
            var total = 0.0
            for v in x { total += v }
            let previous = worst
            worst = 0
            for j in 0..<m { worst = max(worst, abs(x[j] - exp(y[j])) / total) }
            guard worst.isFinite, f.allSatisfy({ $0.isFinite }) else { worst = .infinity; break }
            // Settled, in a round at the full tolerance: below it, or at the households' own noise floor (a
            // round that barely improves on the last and is within 100× the tolerance only follows the warm
            // household solve's remaining convergence, not the composite prices; so does a fourth such
            // round within 100× that still wanders).
            let settled = worst <= target
                || (exactRounds >= 2 && worst > 0.5 * previous && worst <= 100 * target)
                || (exactRounds >= 4 && worst <= 100 * target)
            if exact && settled && solves >= 2 {
                outcome.buyerPrices = problem.prices
                return outcome
            }
            // A source whose spending share has fallen below 1e-12 and still falls has no interior fixed point
            // in reach: its price rises as its spending shrinks faster than the households turn away from it
            // (CRRA households at high prices). Stop and name it rather than iterate into underflow.
            let shares = CompositePrices.shares(x)
            if let j = (0..<m).first(where: { shares[$0] < 1e-12 && f[$0] < 0 }), solves >= 3 {
                collapsed = (j, shares[j])
                break
            }
            y = mixer.next(y, step: CompositePrices.newtonStep(residual: f, shares: shares, c: c))
            // The households' noise in log X is some hundred times their tolerance: keep it a tenth of the
            // composite error. A new tolerance makes the old residuals incomparable: the mixing restarts.
            let tighter = max(target, min(round.householdTolerance, 1e-3 * worst))
            if tighter < round.householdTolerance { mixer = CompositePrices.Anderson(memory: 4) }
            round.householdTolerance = tighter
        }
        households[i]!.reset(); distributions[i]!.reset()
        return .failed(varieties: m, failure: collapsed.map {
            CountryFailure(kind: .compositeCollapse, variety: $0.source + 1, iteration: solves, value: $0.share)
        } ?? CountryFailure(kind: .compositePrices, iteration: solves, value: worst))
    }
}
