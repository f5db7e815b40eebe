/*
 * plant.h - a planted symlink for the temporary-file tests (issue 18 #6): an
 * attacker who can write to an output folder links the name a writer used to
 * predict (PATH.tmp.PID, PATH.tmp) to a file of the victim's. A writer that
 * follows it overwrites the victim; a writer that makes a fresh file with
 * O_EXCL|O_NOFOLLOW leaves both alone.
 *
 *     plant_link(link, victim);  ... write PATH ...;  TAP_OK(plant_intact(link, victim), ...);
 */
#ifndef LOAA_TESTS_PLANT_H
#define LOAA_TESTS_PLANT_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLANT_TEXT "the victim's file\n"

/* Writes victim with PLANT_TEXT and makes link a symlink to it (replacing whatever link was). */
static inline void plant_link(const char *link, const char *victim)
{
    FILE *f = fopen(victim, "w");
    if (f) {
        fputs(PLANT_TEXT, f);
        fclose(f);
    }
    unlink(link);
    if (symlink(victim, link) != 0)
        perror(link);
}

/* 1 when link is still a symlink and victim still holds exactly PLANT_TEXT. */
static inline int plant_intact(const char *link, const char *victim)
{
    struct stat sb;
    char text[64] = "";
    FILE *f = fopen(victim, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    return lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode) && !strcmp(text, PLANT_TEXT);
}

/* Regular files in dir whose name starts with prefix (temporaries a writer left behind). */
static inline int plant_leftovers(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && e->d_type == DT_REG)
            n++;
    if (d)
        closedir(d);
    return n;
}

#endif
