"""Where each page lives, so links between pages are written once."""

PAGE_FILES = {
    "gradients": "pages/1_Gradients.py",
    "several-variables": "pages/2_Several_variables.py",
    "accumulation": "pages/3_Accumulation.py",
    "by-hand": "pages/4_Checking_by_hand.py",
    "exercises": "pages/5_Exercises.py",
    "playground": "pages/6_Playground.py",
}
