/**
 * The whole pull-request pipeline in one step: the same as jdci.pr() (see vars/jdci.groovy for the options).
 *
 *   jdciPullRequest()                               // uses jdci.toml in the workspace
 *   jdciPullRequest(config: 'ci/jdci.toml', merge: false)
 */
def call(Map options = [:]) {
    return jdci.pr(options)
}
