/**
 * For a cron job: merges every open pull request whose gate passes, inside the repository's merge lock.
 * The same as jdci.sweep() (see vars/jdci.groovy for the options). Exit 75 (a PR still waits) is not a failure.
 *
 *   jdciMergeSweep(repository: 'acme/shop')
 */
def call(Map options = [:]) {
    return jdci.sweep(options)
}
