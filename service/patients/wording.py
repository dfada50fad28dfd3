"""What a patient reads on the questionnaire pages: headings and questions in everyday words.

The forms' titles are short labels for the clinic (`STarT Back`, `Low mood: not enjoying
things`). A patient is asked the same thing as a question, in our own words: the published
wording of the instruments is licensed and never stored (domain.md section 5); an operator who
holds a licence can load it as a content pack. Keyed by the field's dotted path, so the
intake and the follow-ups (which share `proms.*`) read alike."""

from __future__ import annotations

HEADINGS: dict[str, str] = {
    "STarT Back": "How your back affects you",
    "Outcome questionnaires": "Your pain and daily life",
    "Disability index (ODI structure)": "What your back pain makes harder",
    "PSEQ": "How sure you feel you can manage",
    "PSFS": "Your own activities",
}
"""Group headings, by the form's title for the group."""

QUESTIONS: dict[str, str] = {
    "start_back.SB1": "Has the pain from your back gone down into a leg?",
    "start_back.SB2": "Have you also had pain in your shoulder or neck?",
    "start_back.SB3": "Has your back pain kept you to short walks only?",
    "start_back.SB4": "Has your back pain made getting dressed take longer?",
    "start_back.SB5": "Do you feel that being physically active is not safe for your back?",
    "start_back.SB6": "Have worries been on your mind much of the time?",
    "start_back.SB7": "Do you feel your back pain is dreadful and here to stay?",
    "start_back.SB8": "Have you lost your enjoyment of the things you usually enjoy?",
    "start_back.SB9": "All in all, how much has your back pain bothered you?",
    "proms.pain_nrs": "How bad is your pain right now?",
    "proms.disability.ODI1": "How strong is your pain?",
    "proms.disability.ODI2": "Does your back pain make washing and dressing harder?",
    "proms.disability.ODI3": "Does your back pain make lifting things harder?",
    "proms.disability.ODI4": "Does your back pain limit how far you can walk?",
    "proms.disability.ODI5": "Does your back pain limit how long you can sit?",
    "proms.disability.ODI6": "Does your back pain limit how long you can stand?",
    "proms.disability.ODI7": "Does your back pain disturb your sleep?",
    "proms.disability.ODI8": "Does your back pain affect your sex life?",
    "proms.disability.ODI9": "Does your back pain limit your social life?",
    "proms.disability.ODI10": "Does your back pain make travelling harder?",
    "proms.pseq.PSEQ1": "Can you still enjoy things, even with the pain?",
    "proms.pseq.PSEQ2": "Can you do your household jobs, even with the pain?",
    "proms.pseq.PSEQ3": "Can you see friends and family as often as before, even with the pain?",
    "proms.pseq.PSEQ4": "Can you cope with the pain in most situations?",
    "proms.pseq.PSEQ5": "Can you do some kind of work, paid or not, even with the pain?",
    "proms.pseq.PSEQ6": "Can you do your hobbies and pastimes, even with the pain?",
    "proms.pseq.PSEQ7": "Can you cope with the pain without taking medicines?",
    "proms.pseq.PSEQ8": "Can you still work towards what you want from life, even with the pain?",
    "proms.pseq.PSEQ9": "Can you live your normal life, even with the pain?",
    "proms.pseq.PSEQ10": "Can you slowly become more active, even with the pain?",
}
"""Questions by field path (fields not listed keep their form title)."""
