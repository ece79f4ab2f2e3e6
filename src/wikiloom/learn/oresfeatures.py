"""ORES's nine edit-quality features of 2015 (editquality's English demo dataset).

`OresDemoFeatures` computes the columns of `enwiki.features_reverted.*.20k_2015` with
revscoring's names and meanings, so that a model trained on that file scores revisions we
extract.

What each of the nine ORES features means (revscoring 1.x/2.x, checked against the demo
file's value distributions):

``wikitext.revision.diff.longest_repeated_char_added``
    The longest run of one character (compared lower-cased) inside an added segment (a
    run of consecutive added tokens; runs do not continue across segments). 1 when the
    edit added nothing, so never below 1.
``wikitext.revision.diff.words_added`` / ``words_removed``
    The number of `word` tokens added / removed by the token diff (numbers, CJK
    characters, markup and punctuation are not words; a moved line adds and removes none).
``english.badwords.revision.diff.match_prop_delta_sum`` / ``english.informals...``
    The bad-word (informal-word) regexes are matched, case-insensitively between word
    boundaries, in the whole parent text and the whole revision text; for each lower-cased
    match whose count changed, ``delta / (old + 1)`` if it rose and ``delta / old`` if it
    fell; the sum over matches. (Our English lists are our own, not revscoring's.)
``english.stopwords.revision.diff.non_stopword_prop_delta_sum``
    The same proportional delta sum over the lower-cased words of the two texts that are
    not stop words.
``revision.user.is_anon``
    1 when the user id is 0 (an IP edit).
``revision.user.in_group({bot,sysop})``
    1 when the editor's current groups include `bot` or `sysop`.
``temporal.revision.user.seconds_since_registration``
    Seconds from the editor's registration to the edit. A missing registration (accounts
    from before 2006, and anonymous editors, whose id 0 is not "no user") counts from
    2006-01-01T00:00:00Z, so an IP edit of 2015 shows about 2.9e8; a registration after the
    edit gives 30,758,400 (revscoring's "one year" of 356 days); a hidden user gives 0.
"""

from __future__ import annotations

from wikiloom.learn.diffs import diff_tokens
from wikiloom.learn.revisionfeatures import (
    RevisionTransformer,
    groups_of,
    longest_repeated_char,
    seconds_since_registration,
    texts_of,
    user_hidden,
    words,
)
from wikiloom.learn.wordlists import load_wordlists
from wikiloom.wiki.revisions import Revision

ORES_DEMO_FEATURES: tuple[str, ...] = (
    "wikitext.revision.diff.longest_repeated_char_added",
    "wikitext.revision.diff.words_added",
    "wikitext.revision.diff.words_removed",
    "english.badwords.revision.diff.match_prop_delta_sum",
    "english.informals.revision.diff.match_prop_delta_sum",
    "english.stopwords.revision.diff.non_stopword_prop_delta_sum",
    "revision.user.is_anon",
    "revision.user.in_group({bot,sysop})",
    "temporal.revision.user.seconds_since_registration",
)


class OresDemoFeatures(RevisionTransformer):
    """The nine edit-quality features of ORES's 2015 English demo dataset.

    Columns, in order, are `ORES_DEMO_FEATURES` (revscoring's names); the module docstring
    gives the meaning of each. English word lists come from `wordlists/en`.

    Parameters
    ----------
    deleted : {"raise", "empty"}, default="raise"
        What to do with a revision whose text, parent's text or user is hidden: raise
        `TextDeleted` or `UserDeleted` (as ORES answers such a revision), or compute the
        features over an empty text and a hidden user (which looks like blanking, so only
        for exploration).

    Attributes
    ----------
    name : str
        The feature set's name, half of its feature-store key.
    version : int
        The feature set's version, bumped whenever a value could change.

    Examples
    --------
    >>> features = OresDemoFeatures()
    >>> features.get_feature_names_out()[0]
    'wikitext.revision.diff.longest_repeated_char_added'
    """

    name = "ores.enwiki.demo"
    version = 1
    feature_names = ORES_DEMO_FEATURES

    def __init__(self, deleted: str = "raise") -> None:
        self.deleted = deleted

    @property
    def key(self) -> str:
        """The feature-store key: name, version and the word lists' fingerprint."""
        return self.fingerprinted(load_wordlists("en").digest)

    def row(self, revision: Revision) -> list[float]:
        """The nine ORES feature values of one revision."""
        lists = load_wordlists("en")
        parent_text, text, _ = texts_of(revision, self.deleted)
        hidden = user_hidden(revision, self.deleted)
        diff = diff_tokens(parent_text, text)
        return [
            float(longest_repeated_char(diff.added_segments)),
            float(words(diff.added)),
            float(words(diff.removed)),
            lists.badwords.delta(parent_text, text, diff).sums()[3],
            lists.informals.delta(parent_text, text, diff).sums()[3],
            lists.non_stopword_delta(parent_text, diff, text).sums()[3],
            float(not hidden and revision.user_id == 0),
            float(bool(groups_of(revision) & {"bot", "sysop"})),
            float(seconds_since_registration(revision)),
        ]
