from explorer.ui.page import lesson_page

lesson_page("custom-function")
