// A header that forgot its licence line.
#pragma once
